/// Module `VideoCompose`: layouts, scaling and tile composition onto a canvas.
