"""Native kernels on Cortex-M (QEMU): exact executed instructions per MAC, and a KWS estimate.

run() -> str, a markdown section for BENCHMARKS.md (see bench/run.py).
"""
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "native_modules" / "harness"), str(ROOT / "device")]

import perf  # noqa: E402
import qemu as Q  # noqa: E402
import stack  # noqa: E402

M4_HZ = 80e6
M0_HZ = 125e6     # RP2040


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
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(run())
