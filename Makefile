# Portcullis: `make run` starts the gateway, `make test` runs the whole suite.
# Both install what is missing first (Debian packages, as root or with sudo).

SWIFT ?= swift
# The release binary carries the Swift runtime (static stdlib): measured, it starts with 22 MB
# resident instead of 28 (only the pages of the runtime it uses are mapped) and spends 1 % fewer
# instructions per request (no PLT hop into swift_retain and friends); it needs no Swift
# libraries on the machine it runs on.
RELEASE = -c release --static-swift-stdlib

.PHONY: run test build debug bench soak fuzz sanitize install deb check-deb deps bench-deps clean

PREFIX ?= /usr/local

run: deps build
	scripts/run-demo.sh

test: deps
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) scripts/run-tests.sh

build: deps
	$(SWIFT) build $(RELEASE)

debug: deps
	$(SWIFT) build

bench: bench-deps build
	bench/run.sh
	BENCH_BUSY_POLL=25us bench/run.sh
	bench/policy.sh
	bench/blocklist.sh
	bench/gzip.sh
	bench/idle-memory.sh
	bench/instructions.sh
	TRANSPORT=tls bench/instructions.sh
	bench/syscalls.sh

# Memory and descriptors over a million short connections (plain and TLS), a million
# keep-alive requests and 100 reloads; then the slow attacks with a normal client's p99.
soak: bench-deps build
	bench/soak.sh
	bench/attack.sh

# Coverage-guided fuzzing of the parsers (libFuzzer + AddressSanitizer): FUZZ_SECONDS per target.
fuzz: deps
	scripts/fuzz.sh

# The test suite under AddressSanitizer and ThreadSanitizer (gateway processes included).
sanitize: deps
	scripts/sanitize.sh

# The release binary, /etc/portcullis (an existing configuration is kept), the systemd units,
# the man page and the certbot hooks; PREFIX, DESTDIR and SYSCONFDIR are honoured.
install: build
	PREFIX=$(PREFIX) scripts/install.sh

# build/portcullis_<version>_<arch>.deb (dpkg-deb).
deb: build
	scripts/make-deb.sh

# The package's layout, units and (as root) install, start, request and removal.
check-deb: build
	scripts/install-deps.sh --package
	scripts/check-deb.sh

deps:
	scripts/install-deps.sh

bench-deps:
	scripts/install-deps.sh --bench

clean:
	rm -rf .build .build-*
