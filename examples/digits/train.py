"""Train the digits example: a small int8 CNN on the 8x8 digits that scikit-learn ships.

Writes digits_int8.tflite (int8 in/out, full-integer quantized), labels.txt and
test_digits.npz (held-out images as the model's int8 input, with their labels) next to this file.
Run with the project's venv: .venv/bin/python examples/digits/train.py
"""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = pathlib.Path(__file__).resolve().parent
SEED = 1234
N_TEST_SAVED = 40


def dataset():
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]   # [N, 8, 8, 1] in [0, 1]
    return train_test_split(x, digits.target, test_size=0.25, random_state=SEED,
                            stratify=digits.target)


def build_model():
    return tf.keras.Sequential([
        tf.keras.layers.Input((8, 8, 1)),
        tf.keras.layers.Conv2D(12, 3, padding="same", activation="relu"),
        tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(2),
        tf.keras.layers.Conv2D(24, 3, padding="valid", activation="relu"),
        tf.keras.layers.AveragePooling2D(2),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(10),
        tf.keras.layers.Softmax(),
    ])


def to_int8_tflite(model, x_train):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[None]] for x in x_train[:300])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def main():
    tf.keras.utils.set_random_seed(SEED)
    x_train, x_test, y_train, y_test = dataset()
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0,
              validation_data=(x_test, y_test))
    _, acc = model.evaluate(x_test, y_test, verbose=0)
    print("float accuracy on %d held-out digits: %.3f" % (len(x_test), acc))

    tflite = to_int8_tflite(model, x_train)
    (HERE / "digits_int8.tflite").write_bytes(tflite)
    interp = tf.lite.Interpreter(model_content=tflite)
    scale, zp = interp.get_input_details()[0]["quantization"]
    q = np.clip(np.round(x_test / scale) + zp, -128, 127).astype(np.int8)
    np.savez(HERE / "test_digits.npz", images=q[:N_TEST_SAVED], labels=y_test[:N_TEST_SAVED])
    (HERE / "labels.txt").write_text("".join("%d\n" % d for d in range(10)))
    print("wrote digits_int8.tflite (%d bytes), input scale %.6f zero point %d"
          % (len(tflite), scale, zp))


if __name__ == "__main__":
    main()
