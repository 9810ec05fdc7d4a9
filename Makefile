# SPDX-License-Identifier: GPL-2.0
#
# make                 build af_ib.ko for KDIR (default: the running kernel's
#                      build dir, else the newest installed Debian headers)
# make module KDIR=..  build into build/<kernelrelease>/ (one tree per kernel)
# make check           the whole test suite (stock 6.1, 6.12, debug kernel)
# make lint            W=1, sparse and checkpatch for every kernel
# make demo            build and show a message exchange over rxe in a VM

SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

ifeq ($(KDIR),)
KDIR := $(firstword $(wildcard /lib/modules/$(shell uname -r)/build/Makefile))
KDIR := $(if $(KDIR),$(dir $(KDIR)),$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))
endif
KDIR := $(patsubst %/,%,$(KDIR))
KREL = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
BUILD = $(SRC)/build/$(KREL)
SOURCES = Kbuild $(shell cd $(SRC) && find af_ib sdp include -name '*.[ch]' 2>/dev/null)

all:
	$(MAKE) -C $(KDIR) M=$(SRC) modules

clean:
	$(MAKE) -C $(KDIR) M=$(SRC) clean
	rm -rf $(SRC)/build

# Out-of-tree builds for several kernels cannot share objects: mirror the
# sources into build/<kernelrelease>/ and build there.
module:
	@test -n "$(KREL)" || { echo "KDIR=$(KDIR) is not a kernel build dir" >&2; exit 1; }
	@mkdir -p $(BUILD)
	@cd $(SRC) && rsync -a --relative $(SOURCES) $(BUILD)/
	$(MAKE) -C $(KDIR) M=$(BUILD) W=$(W) C=$(C) modules

install:
	$(MAKE) -C $(KDIR) M=$(SRC) modules_install

check:
	$(SRC)/tools/check

lint:
	$(SRC)/tools/lint

demo:
	$(SRC)/tools/demo

.PHONY: all clean module install check lint demo
