"""A parent run with one child run per trial; the best trial is recorded on the parent."""
import ledger as mlflow

experiment = mlflow.set_experiment("hyperopt")
print("experiment", experiment.name, experiment.experiment_id)

with mlflow.start_run(run_name="search") as parent:
    mlflow.log_param("trials", 3)
    best = None
    for trial, depth in enumerate((2, 4, 8)):
        with mlflow.start_run(run_name=f"trial-{trial}", nested=True) as child:
            score = 1.0 - 1.0 / depth
            mlflow.log_param("max_depth", depth)
            mlflow.log_metric("score", score)
            if best is None or score > best[1]:
                best = (child.info.run_id, score)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    mlflow.log_metric("best_score", best[1])
    mlflow.set_tag("best_run", best[0])

children = mlflow.search_runs(
    filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    order_by=["metrics.score DESC"], output_format="list")
print("children", [c.info.run_name for c in children])
print("parent of best", children[0].data.tags["mlflow.parentRunId"] == parent.info.run_id)
