# Board app: classify 8x8 digits with tinyml. Runs as-is on a board (after tinyml-flash) and on
# the unix port (make demo). Reads images from digits.bin: N raw int8 images of 64 bytes.
import os
import sys
import time
import tinyml

IMAGES = "digits.bin"


def default_model():
    """tinyml-flash installs the converted .tmdl; a plain copy is the .tflite."""
    for name in ("digits_int8.tmdl", "digits_int8.tflite"):
        try:
            os.stat(name)
            return name
        except OSError:
            pass
    raise OSError("digits_int8 model not found next to app.py")


def main(model_path=None, images_path=IMAGES):
    model_path = model_path or default_model()
    m = tinyml.load(model_path)
    size = m.inputs[0].nbytes
    with open(images_path, "rb") as f:
        data = f.read()
    print("backend", tinyml.backend, "arena", m.arena_bytes)
    for i in range(len(data) // size):
        m.set_input(0, data[i * size:(i + 1) * size])
        t0 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.time() * 1e6)
        m.invoke()
        t1 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.time() * 1e6)
        out = bytes(m.get_output(0))
        print("result", i, out.hex(), t1 - t0)


if __name__ == "__main__":
    main(*sys.argv[1:3])
