// Module RTP
