"""Worst-case C stack use of the kernel entry points on Cortex-M, from the compiler.

    python stack.py [cortex-m0 cortex-m4 ...]  -> bytes per entry point

Each kernel source is compiled as the native module builds it (-O2) with -fstack-usage and
-fcallgraph-info=su; a function's figure is its own frame plus the deepest callee's. The
naked assembler functions (dot_dsp.c) report no frame, so theirs is read from their
prologue: PUSH/STMDB register lists and SUB SP immediates.
"""
import re
import subprocess
import sys
import tempfile
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "src"
FLAGS = {"cortex-m0": ["-mthumb", "-mcpu=cortex-m0"],
         "cortex-m4": ["-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
         "cortex-m7": ["-mthumb", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"]}
SOURCES = ("dot_dsp.c", "quads.c", "conv.c", "depthwise.c", "fully_connected.c", "pool.c")
ENTRIES = ("tk_conv_s8", "tk_depthwise_s8", "tk_fully_connected_s8",
           "tk_fully_connected_s8_packed", "tk_avgpool", "tk_maxpool")


def _naked_frames(obj):
    """bytes pushed by each function's prologue (up to its first branch)"""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(obj)],
                         capture_output=True, text=True, check=True).stdout
    frames, name, done = {}, None, False
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(\w+)>:", line)
        if m:
            name, done = m.group(1), False
            frames[name] = 0
            continue
        if name is None or done or "\t" not in line:
            continue
        ins = line.split("\t", 1)[1].strip()
        m = re.match(r"(push|stmdb(?:\.w)?\s+sp!,)\s*\{([^}]*)\}", ins)
        if m:
            frames[name] += 4 * len(m.group(2).split(","))
        elif re.match(r"sub(\.w)?\s+sp, (sp, )?#(\d+)", ins):
            frames[name] += int(re.findall(r"#(\d+)", ins)[0])
        elif re.match(r"(b|bl|bx|blx|cb|ldm|pop)", ins.split()[0]) and ins.split()[0] != "bic":
            done = ins.split()[0].startswith(("b", "cb", "pop"))
    return frames


def usage(cpu):
    frame, calls = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for src in SOURCES:
            obj = pathlib.Path(tmp) / (src + ".o")
            subprocess.run(["arm-none-eabi-gcc"] + FLAGS[cpu] + [
                "-O2", "-std=c99", "-fno-tree-loop-distribute-patterns", "-ffreestanding",
                "-fstack-usage", "-fcallgraph-info=su", "-c", str(SRC / src), "-o", str(obj)],
                check=True, cwd=tmp)
            if src == "dot_dsp.c":
                frame.update(_naked_frames(obj))
            ci = obj.with_suffix(".ci").read_text()
            for title, label in re.findall(r'node: \{ title: "([^"]+)" label: "([^"]+)"', ci):
                m = re.search(r"\\n(\d+) bytes", label)
                if m:
                    frame[title.split(":")[-1]] = int(m.group(1))
            for a, b in re.findall(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', ci):
                calls.setdefault(a.split(":")[-1], set()).add(b.split(":")[-1])

    def deepest(f, seen=()):
        below = [deepest(g, seen + (f,)) for g in calls.get(f, ()) if g not in seen]
        return frame.get(f, 0) + max(below, default=0)
    return {e: deepest(e) for e in ENTRIES}


if __name__ == "__main__":
    for cpu in sys.argv[1:] or ("cortex-m0", "cortex-m4"):
        for entry, n in usage(cpu).items():
            print("%-10s %-30s %5d bytes" % (cpu, entry, n))
