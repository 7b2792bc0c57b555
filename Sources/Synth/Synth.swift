// Module Synth
