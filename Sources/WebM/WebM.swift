import CFFmpeg
import CShims

let avformatVersionNumber = avformat_version()
