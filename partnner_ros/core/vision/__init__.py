"""Camera frames in, model input and results out: sources, pre- and postprocessing."""
