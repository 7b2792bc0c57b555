// Module SDP
