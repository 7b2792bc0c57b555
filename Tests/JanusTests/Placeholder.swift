import Testing
@testable import Janus
