"""@micropython.viper twin of copy_strided (kernels/python_copy.py: PAD, CONCATENATION, PACK,
UNPACK, SPLIT, STRIDED_SLICE, TRANSPOSE, GATHER as strided copy and fill jobs), same output
bytes. MicroPython only; it adds itself to kernels/viper.py's KERNELS.

Strides and offsets are sign-extended from the int32 parameter block ((v << _SX) >> _SX); the
fill value is read as bytes of the block, so no int above 2**30 is ever made (that would box).
"""
import micropython

from .viper import _SX


@micropython.viper
def copy_strided(out, a, b, p):
    po = ptr8(out)
    pa = ptr8(a)
    pp = ptr32(p)
    p8 = ptr8(p)
    sx = int(_SX)
    e = int(pp[0])
    for j in range(int(pp[1])):
        q = 2 + 16 * j
        mode = int(pp[q])
        fill = 4 * (q + 1)                  # byte offset of the fill word in p
        n0 = int(pp[q + 2])
        n1 = int(pp[q + 3])
        n2 = int(pp[q + 4])
        n3 = int(pp[q + 5])
        doff = (int(pp[q + 6]) << sx) >> sx
        d0 = (int(pp[q + 7]) << sx) >> sx
        d1 = (int(pp[q + 8]) << sx) >> sx
        d2 = (int(pp[q + 9]) << sx) >> sx
        d3 = ((int(pp[q + 10]) << sx) >> sx) * e
        soff = (int(pp[q + 11]) << sx) >> sx
        s0 = (int(pp[q + 12]) << sx) >> sx
        s1 = (int(pp[q + 13]) << sx) >> sx
        s2 = (int(pp[q + 14]) << sx) >> sx
        s3 = ((int(pp[q + 15]) << sx) >> sx) * e
        for i0 in range(n0):
            for i1 in range(n1):
                for i2 in range(n2):
                    o = (doff + i0 * d0 + i1 * d1 + i2 * d2) * e
                    if mode:
                        for i3 in range(n3):
                            for k in range(e):
                                po[o + k] = p8[fill + k]
                            o += d3
                        continue
                    s = (soff + i0 * s0 + i1 * s1 + i2 * s2) * e
                    if e == 1:
                        for i3 in range(n3):
                            po[o] = pa[s]
                            o += d3
                            s += s3
                        continue
                    for i3 in range(n3):
                        for k in range(e):
                            po[o + k] = pa[s + k]
                        o += d3
                        s += s3


KERNELS = {'copy_strided': copy_strided}
