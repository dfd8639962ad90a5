#!/usr/bin/env bash
# make deb: build/portcullis_<version>_<arch>.deb, built with dpkg-deb from `make install`
# into a staging root (PREFIX=/usr). The binary carries the Swift runtime (static stdlib), so
# its dependencies are the system libraries it links, found with ldd and mapped to their
# packages with dpkg -S.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=.build/release/portcullis
version=$("$binary" version | awk 'NR == 1 { print $2 }')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root

DESTDIR=$root PREFIX=/usr UNITDIR=/lib/systemd/system ENV_FILE=no scripts/install.sh >/dev/null
install -m 0755 scripts/write-env-file.sh "$root/usr/share/portcullis/write-env-file.sh"
# Debug information out (83 → 75 MB), symbols kept: a crash's backtrace still names functions.
strip --strip-debug "$root/usr/bin/portcullis"
gzip -9n "$root/usr/share/man/man1/portcullis.1"

packages=$(ldd "$binary" | awk '/=> \// { print $3 }' | while read -r library; do
    dpkg -S "$(readlink -f "$library")" 2>/dev/null || dpkg -S "$library" 2>/dev/null \
        || { echo "make deb: $library belongs to no Debian package (is $binary built with --static-swift-stdlib?)" >&2; echo FAILED; }
done)
if grep -q FAILED <<< "$packages"; then exit 1; fi
# libc6 at the newest glibc symbol version the binary asks for (GLIBC_ABI_DT_RELR: the packed
# relocations the loader must understand, which came with 2.36).
glibc=$(objdump -p "$binary" | sed -n 's/.*GLIBC_ABI_DT_RELR.*/2.36/p; s/.* GLIBC_\([0-9][0-9.]*\)$/\1/p' | sort -uV | tail -1)
depends=$(cut -d: -f1 <<< "$packages" | sort -u | sed "s/^libc6\$/libc6 (>= $glibc)/" | paste -sd, | sed 's/,/, /g')
[ -n "$depends" ] || { echo "make deb: no dependency found with ldd" >&2; exit 1; }

mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: portcullis
Version: $version
Architecture: $arch
Maintainer: Portcullis developers <portcullis@localhost>
Depends: $depends
Section: httpd
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Description: reverse-proxy security gateway
 Terminates TLS, applies IP blocklists, request-size limits and sliding-window rate limits
 (shared through Redis), adds security headers, gzips, serves ACME HTTP-01 challenges and
 emits an audit event for every security decision, in one binary.
CONTROL
echo /etc/portcullis/portcullis.toml > "$root/DEBIAN/conffiles"
install -m 0755 conf/debian/postinst conf/debian/prerm conf/debian/postrm "$root/DEBIAN/"

mkdir -p build
package=build/portcullis_${version}_${arch}.deb
dpkg-deb --build --root-owner-group "$root" "$package" >/dev/null
echo "$package: $(du -k "$package" | cut -f1) KiB, Depends: $depends"
