import COpus
import CVPX
import CShims

/// libopus version string, proving the binding links.
let opusVersion = String(cString: opus_get_version_string())
