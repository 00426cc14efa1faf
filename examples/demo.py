"""`make demo`: classify held-out digits with tinyml on the MicroPython unix port.

Prints each prediction, the accuracy, the latency per invoke, and whether every output byte
equals TensorFlow Lite Micro's for the same input.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits"
sys.path[:0] = [str(ROOT / "host"), str(ROOT / "device")]


def run_on_unix_port(model, images):
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "digits.bin"
        path.write_bytes(images.tobytes())
        env = dict(os.environ, MICROPYPATH=":".join(
            [str(ROOT / "device"), str(ROOT / "native_modules" / "build" / "x64"), str(EXAMPLE)]))
        exe = pathlib.Path(sys.executable).parent / "micropython"
        code = "import app; app.main(%r, %r)" % (str(model), str(path))
        proc = subprocess.run([str(exe), "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit("demo: the unix port failed:\n" + proc.stdout + proc.stderr)
    lines = [l.split() for l in proc.stdout.splitlines()]
    info = next(l for l in lines if l[0] == "backend")
    rows = [l for l in lines if l[0] == "result"]
    outputs = [np.frombuffer(bytes.fromhex(r[2]), dtype=np.int8) for r in rows]
    return info[1], int(info[3]), outputs, [int(r[3]) for r in rows]


def run_reference(model, images):
    from tflite_micro.python.tflite_micro import runtime
    interp = runtime.Interpreter.from_bytes(model.read_bytes())
    outs = []
    for img in images:
        interp.reset()
        interp.set_input(img[None], 0)
        interp.invoke()
        outs.append(interp.get_output(0).reshape(-1).copy())
    return outs


def main():
    model = EXAMPLE / "digits_int8.tflite"
    test = np.load(EXAMPLE / "test_digits.npz")
    images, labels = test["images"], test["labels"]
    backend, arena, outputs, micros = run_on_unix_port(model, images)
    reference = run_reference(model, images)
    print("tinyml demo: %s on the MicroPython unix port (backend %s, arena %d bytes)"
          % (model.name, backend, arena))
    print("%5s %6s %9s %7s %s" % ("image", "label", "predicted", "score", "bytes == TFLM"))
    correct = same = 0
    for i, (out, ref) in enumerate(zip(outputs, reference)):
        pred = int(np.argmax(out))
        correct += pred == labels[i]
        match = np.array_equal(out, ref)
        same += match
        print("%5d %6d %9d %7.3f %s" % (i, labels[i], pred, (int(out[pred]) + 128) / 256.0,
                                         "yes" if match else "NO"))
    n = len(outputs)
    print("accuracy: %d/%d = %.1f%%" % (correct, n, 100.0 * correct / n))
    print("latency per invoke: median %.0f us (min %d us)" % (np.median(micros), min(micros)))
    print("output bytes equal to TFLM: %d/%d %s" % (same, n, "(bit-exact)" if same == n else "MISMATCH"))
    return 0 if same == n else 1


if __name__ == "__main__":
    sys.exit(main())
