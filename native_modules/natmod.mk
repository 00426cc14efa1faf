# One architecture's native module; called by Makefile with ARCH=<arch>.
MOD = tinyml_kernels
OUT = build/$(ARCH)/$(MOD).mpy
BUILD = build/$(ARCH)/obj
SRC = src/binding.c src/dot_dsp.c src/quads.c src/conv.c src/depthwise.c src/fully_connected.c src/pool.c \
      src/softmax.c src/eltwise.c src/dsp.c src/rnn.c src/copy.c src/requant_kernels.c src/float_kernels.c \
      src/signal.c src/eltwise32.c
HEADERS = $(wildcard src/*.h)

include $(MPY_DIR)/py/dynruntime.mk

# dynruntime.mk asks for -Os; kernels want speed. No libc/libgcc is linked, so gcc must not
# turn loops into memset/memcpy calls.
CFLAGS := $(filter-out -Os,$(CFLAGS)) -O2 -fno-tree-loop-distribute-patterns -ffreestanding
# armv6m enters mpy_init with a short branch: keep it first, in source order
CFLAGS += -fno-toplevel-reorder
MPY_LD = sh tools/quiet.sh $(PYTHON) $(MPY_DIR)/tools/mpy_ld.py
ECHO = @:

.DEFAULT_GOAL := $(OUT)

$(SRC_O): $(HEADERS) natmod.mk

$(OUT): $(BUILD)/$(MOD).native.mpy
	@cp $< $@
# float kernels: no fused multiply-add, so the float32 sums round as in TFLM
$(BUILD)/src/float_kernels.o: CFLAGS += -ffp-contract=off
# op selection by if-chains: no jump tables (armv6m would need libgcc's case helpers);
# x64 vectorizes the Signal/elementwise/float loops at -O3 (on the MCUs it only grows the code)
$(BUILD)/src/signal.o $(BUILD)/src/eltwise32.o: CFLAGS += -fno-jump-tables -ffp-contract=off
ifeq ($(ARCH),x64)
$(BUILD)/src/signal.o $(BUILD)/src/eltwise32.o $(BUILD)/src/float_kernels.o: CFLAGS += -O3
endif
