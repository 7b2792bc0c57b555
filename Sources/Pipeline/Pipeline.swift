/// Module `Pipeline`: the room pipeline and its YAML presets.
