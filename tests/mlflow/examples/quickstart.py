"""Tracking quickstart: params, metrics over steps, tags and artifacts in one run."""
import os
import tempfile

import ledger as mlflow

mlflow.set_experiment("quickstart")

with mlflow.start_run(run_name="baseline") as run:
    mlflow.log_param("learning_rate", 0.01)
    mlflow.log_params({"epochs": 3, "optimizer": "adam"})
    for epoch in range(3):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    mlflow.log_metrics({"accuracy": 0.9, "f1": 0.85})
    mlflow.set_tag("team", "forecasting")
    mlflow.set_tags({"stage": "dev", "owner": "alice"})

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "summary.txt")
        with open(path, "w") as f:
            f.write("three epochs, adam\n")
        mlflow.log_artifact(path)
    mlflow.log_dict({"layers": [16, 8]}, "config/model.json")
    mlflow.log_text("free-form notes", "notes.md")
    print(f"artifacts at {mlflow.get_artifact_uri()}")

print(f"run {run.info.run_id} finished in experiment {run.info.experiment_id}")
print(f"tracking uri: {mlflow.get_tracking_uri()}")
