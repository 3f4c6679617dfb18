/// An error the engine reports to its user, with the exit code of SPEC §7.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// 64: the command line is wrong.
        case usage
        /// 65: bad input data (a bad line, an unknown store, a position beyond the end, a refused setting).
        case badInput
        /// 74: I/O or database problem (missing file, corrupt or newer-schema database).
        case io
        /// 75: temporary failure; retrying later may succeed (a busy database).
        case temporary
        /// 77: configuration or permission problem.
        case configuration
        /// 1: anything else, including `replay --verify` finding a difference.
        case failure
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var exitCode: Int32 {
        switch kind {
        case .usage: return 64
        case .badInput: return 65
        case .io: return 74
        case .temporary: return 75
        case .configuration: return 77
        case .failure: return 1
        }
    }

    public var description: String { message }
}
