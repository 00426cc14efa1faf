"""Run the bare-metal harness under QEMU: outputs, and exact instruction counts per kernel call.

    run_cases(cpu, cases, workdir) -> list of typed output arrays
    count_instructions(cpu, cases, workdir) -> list of executed-instruction counts per case

Instruction counts come from QEMU's in_asm + exec logs (see count_instructions): exact
counts of executed guest instructions between the marker functions around each kernel call.
"""
import os
import pathlib
import shutil
import subprocess

import cases as C

HERE = pathlib.Path(__file__).resolve().parent
BUILD = HERE.parent / "build" / "qemu"
MACHINES = {"cortex-m0": "mps2-an385", "cortex-m3": "mps2-an385", "cortex-m4": "mps2-an386",
            "cortex-m7": "mps2-an500"}


def missing_tools():
    """Why the QEMU checks cannot run here, or None."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            return "%s not installed" % tool
    if not os.path.isdir("/usr/lib/picolibc/arm-none-eabi"):
        return "picolibc-arm-none-eabi not installed"
    return None


def build():
    subprocess.run(["make", "-s", "-C", str(HERE.parent), "harness-arm"], check=True)


def elf(cpu):
    return BUILD / ("harness-%s.elf" % cpu)


def _qemu(cpu, extra=()):
    # an385 is a Cortex-M3 board: it runs the armv6m (Cortex-M0) build unchanged, and the
    # instructions executed are those of that build.
    return ["qemu-system-arm", "-M", MACHINES[cpu], "-nographic", "-monitor", "none",
            "-serial", "none", "-semihosting-config", "enable=on,target=native",
            "-kernel", str(elf(cpu))] + list(extra)


def run_cases(cpu, cases, workdir, timeout=600):
    workdir = pathlib.Path(workdir)
    C.write_cases(workdir / "tk_cases.bin", cases)
    out = workdir / "tk_out.bin"
    if out.exists():
        out.unlink()
    res = subprocess.run(_qemu(cpu), cwd=workdir, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError("QEMU %s harness failed (%d): %s%s"
                           % (cpu, res.returncode, res.stdout[-2000:], res.stderr[-2000:]))
    return C.read_outputs(out, cases)


def _symbol(cpu, name):
    res = subprocess.run(["arm-none-eabi-nm", str(elf(cpu))], capture_output=True, text=True,
                         check=True)
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    raise LookupError(name)


def count_instructions(cpu, cases, workdir, timeout=1200):
    """Executed instructions of each case's kernel call.

    QEMU logs every translated block's instructions (in_asm) and every block execution
    (exec, with chaining off so none is skipped); a kernel call's count is the sum of the
    sizes of the blocks executed from tk_mark_begin to tk_mark_end, the same number
    single-stepping gives (instructions after the first one of tk_mark_begin, up to and
    including the first one of tk_mark_end)."""
    workdir = pathlib.Path(workdir)
    C.write_cases(workdir / "tk_cases.bin", cases)
    begin = "%08x" % _symbol(cpu, "tk_mark_begin")
    end = "%08x" % _symbol(cpu, "tk_mark_end")
    proc = subprocess.Popen(_qemu(cpu, ["-d", "in_asm,exec,nochain", "-D", "/dev/stdout"]),
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1 << 20)
    sizes, block_pc, block_n = {}, None, 0
    counts, n, inside = [], 0, False
    for line in proc.stdout:
        if line.startswith("0x"):            # an instruction of the block being translated
            if block_pc is None:
                block_pc = line[2:10]
            block_n += 1
            continue
        if block_pc is not None:             # end of that block's listing
            sizes[block_pc] = block_n
            block_pc, block_n = None, 0
        if not line.startswith("Trace"):
            continue
        i = line.find("[")
        pc = line[i + 10:i + 18]             # [cs_base/pc/flags/cflags]
        if inside:
            if pc == end:
                counts.append(n + 1)
                inside = False
            else:
                n += sizes[pc]
        elif pc == begin:
            inside, n = True, sizes[pc] - 1
    proc.wait(timeout=timeout)
    if proc.returncode != 0 or len(counts) != len(cases):
        raise RuntimeError("QEMU %s: %d counts for %d cases (exit %d)"
                           % (cpu, len(counts), len(cases), proc.returncode))
    return counts
