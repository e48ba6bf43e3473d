/// An error of the reconciler, with a code a caller can match on and a message for people.
public struct ReconcilerError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case corruptState, missingModelFile, stateWrite, locked, workerFailed, unsupported, gitFailed
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let corruptState = Code(.corruptState)
        public static let missingModelFile = Code(.missingModelFile)
        public static let stateWrite = Code(.stateWrite)
        public static let locked = Code(.locked)
        public static let workerFailed = Code(.workerFailed)
        public static let unsupported = Code(.unsupported)
        public static let gitFailed = Code(.gitFailed)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
