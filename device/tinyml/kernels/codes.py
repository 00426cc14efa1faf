"""Codes in the parameter blocks of the elementwise, activation, reduce and CAST kernels:
written by the ops, read by every backend. A module of its own so that ops need not import
the python kernels (tens of KB of heap) on a backend that has the kernels natively."""

BCAST_DIMS = 5      # dims of the broadcast header of the binary kernels

# binary_float / binary_int32 operation codes (p[15])
OP_ADD = 0
OP_SUB = 1
OP_MUL = 2
OP_DIV = 3
OP_MAX = 4
OP_MIN = 5
OP_SQDIFF = 6
OP_PRELU = 7

# unary_float operation codes (p[1])
UF_RELU = 0
UF_RELU6 = 1
UF_RELU_N1_TO_1 = 2
UF_LOGISTIC = 3
UF_TANH = 4
UF_HARD_SWISH = 5
UF_LEAKY_RELU = 6

# reduce_float operation codes (p[2])
RF_SUM = 0
RF_MEAN = 1
RF_MAX = 2

# minmax dtype codes (p[16])
DT_INT8 = 0
DT_INT16 = 1
DT_INT32 = 2
DT_FLOAT32 = 3

# cast dtype codes (p[1] source, p[2] destination)
CT_INT8 = 0
CT_INT16 = 1
CT_INT32 = 2
CT_UINT32 = 3
CT_FLOAT32 = 4
CT_BOOL = 5
CT_CODES = {'int8': CT_INT8, 'int16': CT_INT16, 'int32': CT_INT32, 'uint32': CT_UINT32,
            'float32': CT_FLOAT32, 'bool': CT_BOOL}
