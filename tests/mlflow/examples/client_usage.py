"""The lower-level client: experiments and runs by id, batched logging, history, artifacts."""
import os
import tempfile
import time

import ledger as mlflow

client = mlflow.tracking.MlflowClient()
experiment_id = client.create_experiment("client-api", tags={"project": "demo"})
run = client.create_run(experiment_id, run_name="batch-run", tags={"source": "client"})
run_id = run.info.run_id

now = int(time.time() * 1000)
client.log_batch(
    run_id,
    metrics=[mlflow.entities.Metric("loss", 0.9 - 0.1 * step, now + step, step)
             for step in range(5)],
    params=[mlflow.entities.Param("batch_size", "32")],
    tags=[mlflow.entities.RunTag("phase", "train")],
)
client.log_param(run_id, "seed", 7)
client.log_metric(run_id, "accuracy", 0.8, step=4)
client.set_tag(run_id, "reviewed", "no")

with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "weights.txt"), "w") as f:
        f.write("0.1 0.2 0.3\n")
    client.log_artifact(run_id, os.path.join(tmp, "weights.txt"), artifact_path="model")

client.set_terminated(run_id, status="FINISHED")

fetched = client.get_run(run_id)
print("status", fetched.info.status)
print("params", fetched.data.params)
history = client.get_metric_history(run_id, "loss")
print("loss history", [round(m.value, 2) for m in history])
print("artifacts", [f.path for f in client.list_artifacts(run_id)])
print("files", [f.path for f in client.list_artifacts(run_id, "model")])
for r in client.search_runs([experiment_id], "metrics.accuracy > 0.5",
                            order_by=["metrics.accuracy DESC"], max_results=10):
    print("found", r.info.run_name, r.data.metrics["accuracy"])
