"""Python twin of the native copy_strided kernel (strided / blocked copy and fill jobs).

copy_strided(out, a, b, p): out, a byte buffers (b unused); all units are elements of
p[0] bytes (1, 2 or 4). p[1] n_jobs, then 16 words per job:
  mode (0 copy from a, 1 fill), fill (raw value, little-endian low p[0] bytes),
  n0 n1 n2 n3 (shape), dst_off d0 d1 d2 d3, src_off s0 s1 s2 s3 (strides).
For every index i: out[dst_off + sum(i_k*d_k)] = fill if mode else a[src_off + sum(i_k*s_k)].
"""


def copy_strided(out, a, b, p):
    e = p[0]
    for j in range(p[1]):
        q = 2 + 16 * j
        mode, fill = p[q], p[q + 1]
        n0, n1, n2, n3 = p[q + 2], p[q + 3], p[q + 4], p[q + 5]
        doff, d0, d1, d2, d3 = p[q + 6], p[q + 7], p[q + 8], p[q + 9], p[q + 10]
        soff, s0, s1, s2, s3 = p[q + 11], p[q + 12], p[q + 13], p[q + 14], p[q + 15]
        v = bytes((fill >> (8 * k)) & 255 for k in range(e))
        for i0 in range(n0):
            for i1 in range(n1):
                for i2 in range(n2):
                    o = (doff + i0 * d0 + i1 * d1 + i2 * d2) * e
                    s = (soff + i0 * s0 + i1 * s1 + i2 * s2) * e
                    for i3 in range(n3):
                        oo = o + i3 * d3 * e
                        if mode:
                            out[oo:oo + e] = v
                        else:
                            ss = s + i3 * s3 * e
                            out[oo:oo + e] = a[ss:ss + e]
