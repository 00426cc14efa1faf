"""Run the bare-metal harness under QEMU: outputs, and exact instruction counts per kernel call.

    run_cases(cpu, cases, workdir) -> list of typed output arrays
    count_instructions(cpu, cases, workdir) -> list of executed-instruction counts per case

Instruction counts come from `-singlestep -d exec,nochain`: every translation block is one
guest instruction and every execution is logged, so the log lines between entering
tk_mark_begin and entering tk_mark_end are the instructions of one kernel call (plus the
handful of marker call instructions).
"""
import os
import pathlib
import shutil
import subprocess

import cases as C

HERE = pathlib.Path(__file__).resolve().parent
BUILD = HERE.parent / "build" / "qemu"
MACHINES = {"cortex-m0": "mps2-an385", "cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500"}


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
    workdir = pathlib.Path(workdir)
    C.write_cases(workdir / "tk_cases.bin", cases)
    begin = "%08x" % _symbol(cpu, "tk_mark_begin")
    end = "%08x" % _symbol(cpu, "tk_mark_end")
    proc = subprocess.Popen(_qemu(cpu, ["-singlestep", "-d", "exec,nochain", "-D", "/dev/stdout"]),
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1 << 20)
    counts, n, inside = [], 0, False
    for line in proc.stdout:
        # "Trace 0: 0x... [00000000/<pc>/<flags>/<cflags>] symbol"
        i = line.find("[")
        if i < 0:
            continue
        pc = line[i + 10:i + 18]
        if inside:
            n += 1
            if pc == end:
                counts.append(n)
                inside = False
        elif pc == begin:
            inside, n = True, 0
    proc.wait(timeout=timeout)
    if proc.returncode != 0 or len(counts) != len(cases):
        raise RuntimeError("QEMU %s: %d counts for %d cases (exit %d)"
                           % (cpu, len(counts), len(cases), proc.returncode))
    return counts
