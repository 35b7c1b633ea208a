"""Models: MLflow's MLmodel format, flavors (sklearn, pyfunc, xgboost, lightgbm, pytorch, onnx),
signatures and model URIs."""
