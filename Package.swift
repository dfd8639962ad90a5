// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["PortcullisCLI"]),
        .executable(name: "portcullis-origin", targets: ["PortcullisOrigin"]),
        .executable(name: "portcullis-bench", targets: ["PortcullisBench"]),
        .executable(name: "portcullis-fuzz", targets: ["PortcullisFuzz"]),
        .library(name: "Portcullis", targets: ["Portcullis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Whole response bodies of bounded length are gzipped with libdeflate (Compression/WholeBodyGzip).
        .systemLibrary(name: "CDeflate", providers: [.apt(["libdeflate-dev"])]),
        .target(name: "CShims", dependencies: ["COpenSSL"], cSettings: [.define("_GNU_SOURCE")]),
        .target(
            name: "Portcullis",
            dependencies: [
                "CShims", "COpenSSL", "CHiredis", "CZlib", "CDeflate",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .executableTarget(
            name: "PortcullisCLI",
            dependencies: [
                "Portcullis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The toolchain's lld with packed relative relocations (glibc 2.36's DT_RELR): the
            // 77,000 pointers the Swift metadata needs fixed at load time take 15 KB instead of
            // 1.9 MB, which the loader read and kept resident (README, "Memory").
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]
        ),
        .executableTarget(name: "PortcullisOrigin", dependencies: ["CShims", "COpenSSL", "CZlib"]),
        .executableTarget(name: "PortcullisBench", dependencies: ["Portcullis"]),
        // Fuzz targets for the parsers: `make fuzz` (libFuzzer, -DFUZZING); debug builds replay.
        .executableTarget(name: "PortcullisFuzz", dependencies: ["Portcullis"]),
        .testTarget(name: "PortcullisTests", dependencies: ["Portcullis", "CShims", "COpenSSL", "CZlib"]),
    ]
)
