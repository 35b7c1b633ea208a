"""Autologging a scikit-learn model: no explicit log calls in the training code."""
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.model_selection import train_test_split

import ledger as mlflow

mlflow.set_experiment("diabetes")
mlflow.sklearn.autolog()

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42)

with mlflow.start_run(run_name="elasticnet") as run:
    model = ElasticNet(alpha=0.05, l1_ratio=0.5, random_state=42)
    model.fit(X_train, y_train)
    score = model.score(X_test, y_test)
    mlflow.log_metric("test_r2", score)

autologged = mlflow.last_active_run()
print("run", autologged.info.run_id)
print("params", sorted(autologged.data.params)[:3])
print("metrics", sorted(autologged.data.metrics))
