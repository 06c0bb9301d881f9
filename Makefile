# SPDX-License-Identifier: GPL-2.0
# dm-replay: top-level Makefile.  The module itself is described by Kbuild;
# this file drives kbuild, the userspace tools, the selftests and the tests.
# `make help` lists the targets.

TOP := $(CURDIR)

# The Debian 6.1 kernel to build for: the newest installed
# /lib/modules/6.1.*/build (never the running kernel: the host runs another).
KDIR ?= $(shell ls -d /lib/modules/6.1.*/build 2>/dev/null | sort -V | tail -n 1)
# Its release, for scripts/vm-run (derived from KDIR when it has the
# /lib/modules/VER/build form; otherwise pass KVER=...).  Not `?=`: an
# empty KVER exported by a parent make run before scripts/setup must not stick.
KVER := $(or $(KVER),$(patsubst /lib/modules/%/build,%,$(filter /lib/modules/%/build,$(KDIR))))
export KVER

TOOLS_DIR := tools/dm-replay
SELFTESTS_DIR := tools/testing/selftests/dm-replay
CHECKPATCH := $(TOP)/.cache/linux/scripts/checkpatch.pl
CHECKPATCH_FILES = $(wildcard drivers/md/*.[ch]) include/uapi/linux/dm-replay.h \
		   bench/xcpu/dm-xcpu.c
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf 2>/dev/null)

MAKEFLAGS += --no-print-directory

.PHONY: all modules tools selftests check check-debug demo bench fuzz \
	checkpatch install modules_install tools_install dkms setup bench-xcpu \
	clean distclean help

all: modules tools selftests

define need_kdir
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { \
		echo "make: no Debian 6.1 kernel headers (KDIR='$(KDIR)'); run scripts/setup or pass KDIR=" >&2; \
		exit 1; }
endef

# W=1, C=1/C=2 (sparse), V=1 reach kbuild through MAKEFLAGS.
modules:
	$(need_kdir)
	$(MAKE) -C $(KDIR) M=$(TOP) modules

# bench/cross-cpu's reference target, not part of dm-replay (see
# bench/README.md).
bench-xcpu:
	$(need_kdir)
	$(MAKE) -C $(KDIR) M=$(TOP)/bench/xcpu W=1 modules

# A part that does not exist yet is skipped with a message, never faked.
define sub_make
	@if [ -f $(1)/Makefile ]; then \
		$(MAKE) -C $(1) $(2); \
	else \
		echo "make: $(1)/Makefile not found, skipping '$(2)' there"; \
	fi
endef

tools:
	$(call sub_make,$(TOOLS_DIR),all)

selftests:
	$(call sub_make,$(SELFTESTS_DIR),all)

setup:
	@$(TOP)/scripts/setup

# Install what is missing, build everything, run every suite (host tests,
# then the kselftests in one VM boot); the last line is the TAP total.
check:
	@$(TOP)/scripts/setup
	@$(MAKE) all
	@$(TOP)/scripts/check

# Boot the VM and run scripts/demo-guest (record a fio run with checkpoints).
demo:
	@$(TOP)/scripts/setup
	@$(MAKE) all
	@$(TOP)/scripts/vm-run --timeout 900 -- scripts/demo-guest

check-debug:
	@if [ -x scripts/check-debug ]; then \
		scripts/setup && $(MAKE) tools selftests && scripts/check-debug; \
	else \
		echo "make: scripts/check-debug not found" >&2; exit 1; \
	fi

bench:
	@if [ -x bench/run ]; then \
		scripts/setup && $(MAKE) all && bench/run; \
	else \
		echo "make: bench/run not found" >&2; exit 1; \
	fi

fuzz:
	@test -f $(TOOLS_DIR)/Makefile || { echo "make: $(TOOLS_DIR)/Makefile not found" >&2; exit 1; }
	$(MAKE) -C $(TOOLS_DIR) fuzz

# Fails on any ERROR, WARNING or CHECK.
checkpatch:
	@test -f $(CHECKPATCH) || $(TOP)/scripts/setup
	@out=$$($(CHECKPATCH) --no-tree --strict --show-types -f $(CHECKPATCH_FILES) 2>&1); rc=$$?; \
	printf '%s\n' "$$out"; \
	if [ $$rc -ne 0 ] || printf '%s\n' "$$out" | grep -qE '^(ERROR|WARNING|CHECK):'; then \
		echo "checkpatch: problems found" >&2; exit 1; \
	fi

# INSTALL_MOD_PATH, DESTDIR and PREFIX are honoured.  Installs for KDIR's
# kernel (which is not the host's running kernel here).
install: modules_install tools_install

modules_install: modules
	$(MAKE) -C $(KDIR) M=$(TOP) modules_install

tools_install:
	$(call sub_make,$(TOOLS_DIR),install)

# Register, build and install the module with DKMS for KVER (needs the dkms
# package: apt-get install dkms).
dkms:
	@command -v dkms >/dev/null || { echo "make: dkms not installed (apt-get install dkms)" >&2; exit 1; }
	@test -n "$(VERSION)" || { echo "make: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
	rm -rf /usr/src/dm-replay-$(VERSION)
	mkdir -p /usr/src/dm-replay-$(VERSION)/drivers/md /usr/src/dm-replay-$(VERSION)/include/uapi/linux
	cp Makefile Kbuild dkms.conf /usr/src/dm-replay-$(VERSION)/
	cp drivers/md/*.[ch] /usr/src/dm-replay-$(VERSION)/drivers/md/
	cp include/uapi/linux/dm-replay.h /usr/src/dm-replay-$(VERSION)/include/uapi/linux/
	dkms remove -m dm-replay -v $(VERSION) --all >/dev/null 2>&1 || true
	dkms add -m dm-replay -v $(VERSION)
	dkms build -m dm-replay -v $(VERSION) -k $(KVER)
	dkms install -m dm-replay -v $(VERSION) -k $(KVER)

clean:
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(TOP) clean; \
		$(MAKE) -C $(KDIR) M=$(TOP)/bench/xcpu clean; \
	fi
	$(call sub_make,$(TOOLS_DIR),clean)
	$(call sub_make,$(SELFTESTS_DIR),clean)

# Also the caches (initramfs, extracted kernel files) and the VM output.
distclean: clean
	rm -rf .cache .vm-out

help:
	@echo 'Targets (KDIR=$(KDIR), KVER=$(KVER)):'
	@echo '  all          modules + tools + selftests (default)'
	@echo '  modules      dm-replay.ko for KDIR (W=1, C=2 pass to kbuild)'
	@echo '  tools        libdmreplay and dmreplay ($(TOOLS_DIR))'
	@echo '  selftests    the kselftests ($(SELFTESTS_DIR))'
	@echo '  check        setup, build, host tests, kselftests in a VM; TAP total'
	@echo '  check-debug  the tests on a KASAN/lockdep/kmemleak kernel'
	@echo '  demo         record a fio run through dm-replay in a VM'
	@echo '  bench        benchmarks (bench/run)'
	@echo '  bench-xcpu   bench/xcpu/dm-xcpu.ko, for bench/cross-cpu and the pairs part (bench/run builds it)'
	@echo '  fuzz         fuzz the journal parser (libFuzzer)'
	@echo '  checkpatch   checkpatch.pl --strict on the kernel sources'
	@echo '  install      modules_install (INSTALL_MOD_PATH) + tools install (DESTDIR, PREFIX)'
	@echo '  dkms         dkms add/build/install for KVER'
	@echo '  setup        install the Debian packages needed (scripts/setup)'
	@echo '  clean, distclean'
