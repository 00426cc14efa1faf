"""Instruction counts of the kernels on Cortex-M under QEMU, per MAC, at KWS / VWW layer shapes.

    micro_cases(variant) -> [(label, case, macs)]   variant 'opt' (tinyml) or 'ref' (naive C loop)
    kws_cases() -> [(label, case)]                    every kernel call of the MLPerf Tiny KWS DS-CNN
    per_mac(cpu, variant, workdir) -> [(label, instructions, macs)]
"""
import random

import cases as C
import qemu as Q

REF = {'conv_s8': 'conv_s8_ref', 'depthwise_s8': 'depthwise_s8_ref',
       'fully_connected_s8_packed': 'fully_connected_s8_ref'}

# label, kind, shape (see cases.py), padding
MICRO = [
    ('conv 3x3 s2, VWW stem (48x48x3 crop) -> 24x24x8', 'conv', (1, 48, 48, 3, 8, 3, 3, 2, 1),
     'SAME'),
    ('conv 3x3, 8x8x32 -> 8x8x32', 'conv', (1, 8, 8, 32, 32, 3, 3, 1, 1), 'SAME'),
    ('conv 1x1, KWS 25x5x64 -> 64', 'conv', (1, 25, 5, 64, 64, 1, 1, 1, 1), 'VALID'),
    ('depthwise 3x3, KWS 25x5x64', 'dw', (1, 25, 5, 64, 1, 3, 3, 1, 1), 'SAME'),
    ('fully connected, KWS 64 -> 12', 'fc', (1, 64, 12), None),
    ('fully connected, 512 -> 128', 'fc', (1, 512, 128), None),
]


def _case(rng, kind, shape, padding, variant):
    if kind == 'conv':
        c = C.conv_case(rng, 'conv_s8', shape=shape, padding=padding)
        macs = c.out_items * shape[5] * shape[6] * shape[3]
    elif kind == 'dw':
        c = C.depthwise_case(rng, 'depthwise_s8', shape=shape, padding=padding)
        macs = c.out_items * shape[5] * shape[6]
    else:
        c = C.fc_case(rng, 'fully_connected_s8_packed', shape=shape)   # as Model calls it
        macs = c.out_items * shape[1]
    if variant == 'ref':
        c.kernel = REF[c.kernel]
    return c, macs


def micro_cases(variant='opt', labels=None):
    rng = random.Random(2024)
    out = []
    for label, kind, shape, padding in MICRO:
        c, macs = _case(rng, kind, shape, padding, variant)
        if labels is None or label in labels:
            out.append((label, c, macs))
    return out


def kws_cases():
    """The DS-CNN's 12 kernel calls (RESHAPE is an alias, no call)."""
    rng = random.Random(7)
    layers = [('conv 10x4 s2, 49x10x1 -> 25x5x64',
               C.conv_case(rng, shape=(1, 49, 10, 1, 64, 10, 4, 2, 1), padding='SAME'))]
    for i in range(4):
        layers.append(('depthwise 3x3 #%d' % (i + 1),
                       C.depthwise_case(rng, shape=(1, 25, 5, 64, 1, 3, 3, 1, 1), padding='SAME')))
        layers.append(('conv 1x1 #%d' % (i + 1),
                       C.conv_case(rng, shape=(1, 25, 5, 64, 64, 1, 1, 1, 1), padding='SAME')))
    layers.append(('average pool 25x5', C.pool_case(rng, 'avgpool_s8', shape=(25, 5, 64, 25, 5, 1))))
    layers.append(('fully connected 64 -> 12',
                   C.fc_case(rng, 'fully_connected_s8_packed', shape=(1, 64, 12))))
    layers.append(('softmax 12', C.softmax_case(rng, bits=8, shape=(1, 12))))
    return layers


def per_mac(cpu, variant, workdir, labels=None):
    items = micro_cases(variant, labels)
    counts = Q.count_instructions(cpu, [c for _, c, _ in items], workdir)
    return [(label, n, macs) for (label, _, macs), n in zip(items, counts)]
