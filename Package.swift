// swift-tools-version:6.2
import PackageDescription

// One set of strict settings for every Swift target (see docs/development.md).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "RockchipLlama",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runner", targets: ["Runner"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
    ],
    targets: [
        // Header-only C modules. Never linked: the libraries are opened with dlopen at run time.
        .systemLibrary(name: "CRKLLM", path: "Sources/CRKLLM"),
        .systemLibrary(name: "CLlama", path: "Sources/CLlama", pkgConfig: "llama"),

        .target(
            name: "Manifest",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .target(
            name: "Engine",
            dependencies: ["Manifest", "CLlama", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "Reconciler",
            dependencies: ["Manifest", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .executableTarget(
            name: "Runner",
            dependencies: [
                "Manifest", "Reconciler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        .testTarget(name: "ManifestTests", dependencies: ["Manifest"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "EngineTests", dependencies: ["Engine"], swiftSettings: strict),
        .testTarget(name: "ReconcilerTests", dependencies: ["Reconciler", "Manifest"], swiftSettings: strict),
        .testTarget(name: "CRKLLMTests", dependencies: ["CRKLLM"], swiftSettings: strict),
        .testTarget(name: "RunnerTests", dependencies: ["Runner"], swiftSettings: strict),
    ]
)
