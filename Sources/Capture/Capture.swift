// Module Capture
