"""Audio front ends: MFCC (mlperf_kws) for a 1 s clip on the unix port per DSP backend (python
loops, viper loops, the native mfcc_f32 kernel) vs numpy on the host, with the FFT share; TFLM int16 KISS FFT (micro_speech Signal ops) per backend."""
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "device"))

MP_CODE = """
import json, time
from array import array
from tinyml import audio, dsp, audio_fixed as fx
x, sr = audio.read_wav(%r)
out = {}


def native_spectrum_call(p):
    # mfcc_f32 over the same 49 frames with one mel band spanning all 257 bins and one
    # coefficient: window + FFT + split + magnitude (+257 MACs, 1 log) = the FFT share
    q, tab = p.native_setup()
    q2 = array('i', [49, 480, 320, 512, 1, 1, 0, 257, 0, 257, 0])
    t2 = array('f', [1.0, 1e-6])
    t2.extend(p.window)
    t2.extend(p.fft.cos_full)
    t2.extend(p.fft.sin_full)
    t2.extend(array('f', [1.0] * 257))
    t2.extend(array('f', [1.0]))
    o2 = array('f', bytes(4 * 49))
    f = dsp.native_mfcc()
    return lambda: f(o2, p.clip, t2, q2)


for be in ('python', 'viper', 'native'):
    dsp.use_dsp(be)
    if be == 'viper' and not dsp.viper_available():
        continue
    if be == 'native' and dsp.native_mfcc() is None:
        continue
    audio.features(x, out='float')            # warm up: plans, tables
    p = audio._pipeline('mlperf_kws')
    k = dsp.kernels()
    spec = native_spectrum_call(p) if be == 'native' else None
    best = None
    for _ in range(%d):
        t0 = time.ticks_us()
        audio.features(x, out='float')
        t1 = time.ticks_us()
        p.run(p.clip, 16000, p.floats, 1.0)   # the pipeline alone, without features()'
        t2 = time.ticks_us()                  # python clip copy and max
        ft = 0
        if spec is not None:
            a = time.ticks_us()
            spec()
            ft = time.ticks_diff(time.ticks_us(), a)
        else:
            for t in range(49):               # the spectrum part alone, same frames
                a = time.ticks_us()
                p.spectrum_frame(k, p.clip, t * 320, 1.0)
                ft += time.ticks_diff(time.ticks_us(), a)
        total = time.ticks_diff(t1, t0)
        if best is None or total < best[0]:
            best = (total, ft, time.ticks_diff(t2, t1))
    fft = fx.KissFftR16(512)
    td = array('h', x[4000:4512])
    fd = array('h', bytes(1028))
    t0 = time.ticks_us()
    for _ in range(20):
        fft.run(td, fd)
    kiss = time.ticks_diff(time.ticks_us(), t0) / 20
    fe_us = None
    try:
        fe = audio.Frontend('micro_speech', model=%r)
        fe.feed(x)
        fe.reset()
        t0 = time.ticks_us()
        fe.feed(x)
        fe_us = time.ticks_diff(time.ticks_us(), t0) / 49
    except Exception as e:
        fe_us = repr(e)
    name = 'tinyml_kernels.mfcc_f32' if be == 'native' else dsp.kernels().__name__
    out[be] = [best[0], best[1], kiss, name, fe_us, best[2]]
dsp.use_dsp(None)
print(json.dumps(out))
"""


def numpy_mfcc(x, mel_dense, dct):
    w = x.astype(np.float32) / np.float32(x.max())
    frames = np.lib.stride_tricks.sliding_window_view(w, 480)[::320]
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(480) / 480)).astype(np.float32)
    t0 = time.perf_counter()
    spec = np.abs(np.fft.rfft(frames * win, 512)).astype(np.float32)
    t1 = time.perf_counter()
    mfcc = np.log(spec @ mel_dense + 1e-6) @ dct.T
    return mfcc, t1 - t0


def host_numpy_ms(x, repeats=50):
    from tinyml import dsp
    starts, lengths, offsets, weights = dsp.mel_filterbank(40, 257, 16000, 20.0, 4000.0)
    mel = np.zeros((257, 40), np.float32)
    for m in range(40):
        for j in range(lengths[m]):
            mel[starts[m] + j, m] = weights[offsets[m] + j]
    dct = np.array(dsp.dct_matrix(10, 40), np.float32).reshape(10, 40)
    best, best_fft = 1e9, 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, fft_s = numpy_mfcc(x, mel, dct)
        total = time.perf_counter() - t0
        if total < best:
            best, best_fft = total, fft_s
    return best * 1e3, best_fft * 1e3


def micropython():
    exe = pathlib.Path(sys.executable).parent / "micropython"
    return str(exe) if exe.exists() else "micropython"


def run(repeats=3):
    zoo = os.environ.get("TINYML_MODEL_ZOO")
    head = "## Audio front ends (bench/bench_audio.py)\n\n"
    if not zoo:
        return head + "Skipped: TINYML_MODEL_ZOO unset (needs data/yes_1000ms.wav).\n"
    wav = str(pathlib.Path(zoo) / "data" / "yes_1000ms.wav")
    from tinyml import audio
    x, _ = audio.read_wav(wav)
    x = np.array(x, np.int16)
    np_ms, np_fft_ms = host_numpy_ms(x)
    env = dict(os.environ, MICROPYPATH=":".join(
        [str(ROOT / "device"), str(ROOT / "native_modules" / "build" / "x64")]))
    pre = str(pathlib.Path(zoo) / "audio_preprocessor_int8.tflite")
    proc = subprocess.run([micropython(), "-c", MP_CODE % (wav, repeats, pre)],
                          capture_output=True,
                          text=True, env=env, timeout=1200)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [head,
             "MLPerf Tiny KWS MFCCs (`audio.features(clip, 'mlperf_kws', out='float')`, 49x10) "
             "for one 1 s clip (yes_1000ms.wav); best of %d. FFT share = windowing + 512-point "
             "real FFT + magnitude, timed separately over the same 49 frames. numpy: the same "
             "features vectorised on the host CPython (np.fft.rfft, dense mel matmul).\n" % repeats,
             "| implementation | ms per 1 s clip | pipeline only (ms) | FFT share | x numpy "
             "(clip) | x numpy (pipeline) |",
             "|---|---:|---:|---:|---:|---:|",
             "| numpy (host) | %.2f | %.2f | %.0f%% | 1.0 | 1.0 |"
             % (np_ms, np_ms, 100 * np_fft_ms / np_ms)]
    for be in ("native", "viper", "python"):
        if be not in res:
            lines.append("| unix port, %s | not available on this port | | | | |" % be)
            continue
        total, fft, _, mod, _, run_us = res[be]
        what = "native C kernel" if be == "native" else "%s loops (%s)" % (be, mod.split(".")[-1])
        lines.append("| unix port, %s | %.2f | %.2f | %.0f%% | %.1f | %.1f |"
                     % (what, total / 1e3, run_us / 1e3, 100.0 * fft / run_us,
                        total / 1e3 / np_ms, run_us / 1e3 / np_ms))
    lines.append("")
    lines.append("ms per 1 s clip: the whole `audio.features()` call, which also copies the clip "
                 "and finds its signed maximum in Python loops (audio.py); pipeline only: "
                 "`MfccPipeline.run()` on the prepared clip. FFT share is relative to the "
                 "pipeline; for the native kernel it is one mfcc_f32 call over the same frames "
                 "with a single all-bins mel band and one coefficient.")
    if "native" in res:
        lines.append("")
        lines.append("Target native <= 5x numpy: pipeline %.1fx, whole features() call %.1fx."
                     % (res["native"][5] / 1e3 / np_ms, res["native"][0] / 1e3 / np_ms))
    lines.append("")
    if "viper" in res and "python" in res:
        lines.append("python / viper MFCC: %.2fx. Targets: viper <= 5x numpy (measured %.0fx), "
                     "python within 20x of viper (measured %.1fx)."
                     % (res["python"][0] / res["viper"][0], res["viper"][0] / 1e3 / np_ms,
                        res["python"][0] / res["viper"][0]))
        lines.append("")
        lines.append("TFLM-exact int16 KISS real FFT (512 points, the micro_speech SignalRfft): "
                     "python %.2f ms, viper %.3f ms per frame (%.1fx); bit-identical outputs."
                     % (res["python"][2] / 1e3, res["viper"][2] / 1e3,
                        res["python"][2] / res["viper"][2]))
        fe = [res[be][4] for be in ("python", "viper")]
        if all(isinstance(v, float) for v in fe):
            lines.append("")
            lines.append("micro_speech streaming front end (`Frontend('micro_speech')`: "
                         "audio_preprocessor_int8.tflite in the tinyml engine, bit-exact with "
                         "TFLM) on the unix port: python loops %.2f ms, viper loops %.2f ms per "
                         "30 ms window (20 ms hop), %.1fx." % (fe[0] / 1e3, fe[1] / 1e3,
                                                               fe[0] / fe[1]))
        else:
            lines.append("")
            lines.append("micro_speech front end in the engine: not measured (%s)." % (fe,))
    lines.append("")
    lines.append("The MFCC loops are float arithmetic: MicroPython boxes floats, so the 'viper' "
                 "variant can only use @micropython.native there; the integer KISS FFT is true "
                 "viper (machine words, ptr16).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
