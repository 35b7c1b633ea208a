"""Tables, figures and images as run artifacts."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import ledger as mlflow

mlflow.set_experiment("media")

with mlflow.start_run(run_name="plots") as run:
    table = pd.DataFrame({"prompt": ["hi", "bye"], "score": [0.9, 0.4]})
    mlflow.log_table(data=table, artifact_file="eval/results.json")
    mlflow.log_table(data={"x": [1, 2, 3], "y": [4, 5, 6]}, artifact_file="points.json")

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 1, 3])
    mlflow.log_figure(fig, "figures/curve.png")
    plt.close(fig)

    image = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    mlflow.log_image(image, "images/noise.png")
    mlflow.log_image(image, key="sample", step=1)

loaded = mlflow.load_table("eval/results.json", run_ids=[run.info.run_id])
print("table rows", len(loaded))
