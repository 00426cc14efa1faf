"""Native kernels on Cortex-M (QEMU): exact executed instructions per MAC, and KWS and
person-detection latency estimates.

run() -> str, a markdown section for BENCHMARKS.md (see bench/run.py).
"""
import os
import pathlib
import random
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "native_modules" / "harness"), str(ROOT / "device")]

import perf  # noqa: E402
import qemu as Q  # noqa: E402
import stack  # noqa: E402

M4_HZ = 80e6
M0_HZ = 125e6     # RP2040
M7_HZ = 480e6     # OpenMV H7 (STM32H743)


def _per_mac_table(workdir):
    rows = {}
    for cpu in ("cortex-m4", "cortex-m0"):
        for variant in ("opt", "ref"):
            for label, n, macs in perf.per_mac(cpu, variant, workdir):
                rows.setdefault(label, {})[(cpu, variant)] = n / macs
    lines = ["| kernel, shape | M4 tinyml | M4 naive C | M0 tinyml | M0 naive C |",
             "|---|---:|---:|---:|---:|"]
    for label, _, _, _ in perf.MICRO:
        r = rows[label]
        lines.append("| %s | %.2f | %.2f | %.2f | %.2f |" % (
            label, r[("cortex-m4", "opt")], r[("cortex-m4", "ref")],
            r[("cortex-m0", "opt")], r[("cortex-m0", "ref")]))
    return lines


def _macs(case):
    """Output elements x kernel taps (padding taps included), 0 for pooling and softmax."""
    p = case.p
    if case.kernel == 'conv_s8':
        return case.out_items * p[7] * p[8] * p[3]
    if case.kernel == 'depthwise_s8':
        return case.out_items * p[7] * p[8]
    if case.kernel == 'fully_connected_s8':
        return case.out_items * p[1]
    return 0


def _kws_table(workdir):
    layers = perf.kws_cases()
    m4 = Q.count_instructions("cortex-m4", [c for _, c in layers], workdir)
    m0 = Q.count_instructions("cortex-m0", [c for _, c in layers], workdir)
    lines = ["| layer | M4 instructions | M0 instructions |", "|---|---:|---:|"]
    for (label, _), a, b in zip(layers, m4, m0):
        lines.append("| %s | %d | %d |" % (label, a, b))
    lines.append("| **total** | **%d** | **%d** |" % (sum(m4), sum(m0)))
    return lines, sum(m4), sum(m0), sum(_macs(c) for _, c in layers)


def model_cases(path):
    """(label, case) per kernel call of an int8 model's invoke, at its shapes with random data:
    CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D (VALID), SOFTMAX; other ops
    (reshapes) make no kernel call here."""
    from tinyml import reader
    import cases as C
    graph = reader.read(pathlib.Path(path).read_bytes())
    rng = random.Random(3)
    out = []
    for op in graph.ops:
        t = [graph.tensors[i] for i in op.inputs if i >= 0]
        o = op.options
        if op.name in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
            b, h, w, c = t[0].shape
            _, k_h, k_w, _ = t[1].shape
            if op.name == 'CONV_2D':
                shape = (b, h, w, c, t[1].shape[0], k_h, k_w, o['stride_h'],
                         o.get('dilation_h_factor', 1))
                case = C.conv_case(rng, shape=shape, padding=o['padding'])
            else:
                shape = (b, h, w, c, t[1].shape[3] // c, k_h, k_w, o['stride_h'],
                         o.get('dilation_h_factor', 1))
                case = C.depthwise_case(rng, shape=shape, padding=o['padding'])
            label = '%s %dx%d s%d, %dx%dx%d -> %d' % (
                'conv' if op.name == 'CONV_2D' else 'depthwise', k_h, k_w, o['stride_h'], h, w,
                c, t[1].shape[0 if op.name == 'CONV_2D' else 3])
        elif op.name == 'FULLY_CONNECTED':
            n_out, n_in = t[1].shape
            case = C.fc_case(rng, shape=(t[0].size // n_in, n_in, n_out))
            label = 'fully connected %d -> %d' % (n_in, n_out)
        elif op.name == 'AVERAGE_POOL_2D' and o['padding'] == 'VALID':
            _, h, w, c = t[0].shape
            case = C.pool_case(rng, 'avgpool_s8', shape=(h, w, c, o['filter_height'],
                                                          o['filter_width'], o['stride_h']))
            label = 'average pool %dx%d' % (o['filter_height'], o['filter_width'])
        elif op.name == 'SOFTMAX':
            case = C.softmax_case(rng, bits=8, shape=(t[0].size // t[0].shape[-1],
                                                      t[0].shape[-1]))
            label = 'softmax %d' % t[0].shape[-1]
        else:
            continue
        out.append((label, case))
    return out


def _person_detect(workdir):
    """Markdown lines: instructions per invoke of person_detect on M4, M7 and M0, and the
    latency estimates; [] without the model corpus."""
    zoo = os.environ.get("TINYML_MODEL_ZOO")
    path = pathlib.Path(zoo or '.') / 'person_detect.tflite'
    if not zoo or not path.exists():
        return []
    layers = model_cases(path)
    cases = [c for _, c in layers]
    counts = {cpu: sum(Q.count_instructions(cpu, cases, workdir))
              for cpu in ("cortex-m4", "cortex-m7", "cortex-m0")}
    macs = sum(_macs(c) for c in cases)
    return [
        "", "### TFLM person_detect (MobileNet v1 0.25, 96x96x1), every kernel call", "",
        "%d kernel calls at the model's shapes (random data), %d MACs: %d instructions on"
        " Cortex-M4 (%.2f per MAC), %d on Cortex-M7, %d on Cortex-M0." % (
            len(cases), macs, counts["cortex-m4"], counts["cortex-m4"] / macs,
            counts["cortex-m7"], counts["cortex-m0"]),
        "",
        "**Estimate** (one instruction per cycle, not measured on silicon): %.0f ms on a"
        " Cortex-M4 at 80 MHz, %.1f ms on an OpenMV H7 (Cortex-M7, 480 MHz; its dual issue"
        " makes that pessimistic), %.0f ms on an RP2040 (Cortex-M0+, 125 MHz)." % (
            counts["cortex-m4"] / M4_HZ * 1e3, counts["cortex-m7"] / M7_HZ * 1e3,
            counts["cortex-m0"] / M0_HZ * 1e3),
    ]


def _stack_table():
    use = {cpu: stack.usage(cpu) for cpu in ("cortex-m4", "cortex-m0")}
    lines = ["| entry point | M4 stack bytes | M0 stack bytes |", "|---|---:|---:|"]
    for entry in stack.ENTRIES:
        lines.append("| %s | %d | %d |" % (entry, use["cortex-m4"][entry], use["cortex-m0"][entry]))
    return lines


def run():
    why = Q.missing_tools()
    if why:
        return "## Native kernels on Cortex-M (QEMU)\n\nSkipped: %s.\n" % why
    Q.build()
    with tempfile.TemporaryDirectory() as tmp:
        per_mac = _per_mac_table(tmp)
        kws, m4_total, m0_total, macs = _kws_table(tmp)
        person = _person_detect(tmp)
    out = [
        "## Native kernels on Cortex-M (QEMU)", "",
        "Executed instructions per multiply-accumulate, counted exactly from QEMU execution",
        "traces (`native_modules/harness/qemu.py`) around single kernel calls on random int8",
        "data. *tinyml* is `native_modules/src` as built into `tinyml_kernels.mpy` (-O2;",
        "Cortex-M4: SXTB16/SMLAD inner loops, Cortex-M0: Thumb-1 loop); *naive C* is TFLM's",
        "reference loop compiled with the same flags. MACs are output elements x kernel",
        "taps (padding taps included). Cortex-M0 code runs on QEMU's mps2-an385 (Cortex-M3",
        "core executing the armv6m build), Cortex-M4 on mps2-an386.", "",
    ] + per_mac + [
        "",
        "Cortex-M0 conv with enough output pixels runs blocks of eight output channels over"
        " a filter re-laid once per call as biased unsigned bytes (LDRB has an immediate"
        " offset): per K value LDM + 8 x (LDRB, MULS, ADD), 3.17 instructions per MAC in the"
        " loop; the requantization, without a 32x32->64 multiply, takes 36 per output (0.56"
        " per MAC at K = 64).",
        "",
        "Worst-case C stack per kernel call (`native_modules/harness/stack.py`: -fstack-usage"
        " frames along the call graph, prologues of the assembler functions); buffers live in"
        " the scratch the binding provides:", "",
    ] + _stack_table() + [
        "", "### MLPerf Tiny KWS (DS-CNN), every kernel call at the model's shapes", "",
    ] + kws + [
        "",
        "**Estimate** (not a measurement on silicon): %.1f ms per KWS inference on a Cortex-M4"
        " at 80 MHz, assuming one instruction per cycle (Cortex-M4 loads take 2 cycles, so"
        " expect up to ~1.3x that); %.1f ms on a Cortex-M0+ at 125 MHz (RP2040) on the same"
        " assumption. Python-side op dispatch is not included."
        % (m4_total / M4_HZ * 1e3, m0_total / M0_HZ * 1e3),
        "",
        "The model has %d MACs. At the Cortex-M4's SMLAD peak (2 MACs per instruction, no"
        " loads, no requantization) they take %d instructions: %.1f ms at 80 MHz, a floor for"
        " any int8 kernel library on that core; tinyml runs %.2f instructions per MAC overall."
        % (macs, macs // 2, macs / 2 / M4_HZ * 1e3, m4_total / macs),
    ] + person
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(run())
