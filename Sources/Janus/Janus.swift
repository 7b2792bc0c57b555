/// Module `Janus`: a client of the Janus WebRTC server videoroom plugin (the FreeFlow Connect backend).
