"""autotl in Python: choose a model for a DataFrame of texts, then predict, evaluate, save and load it."""

import pandas as pd

import autotl

topics = {
    "sport": ["match", "goal", "team", "coach", "season"],
    "money": ["market", "shares", "bank", "profit", "prices"],
    "weather": ["rain", "storm", "wind", "snow", "forecast"],
}
data = pd.DataFrame(
    [
        {"text": f"news of the {first} and the {second}", "label": topic}
        for topic, words in topics.items()
        for first in words
        for second in words
        if first != second
    ]
)
train = data.sample(frac=0.75, random_state=0)
new = data.drop(train.index)

predictor = autotl.select(train, budget="2m")  # splits, compares, refits the best; logged to MLflow
print(predictor.leaderboard()[["candidate", "state", "val_metric"]].head(10))

print(predictor.predict(new["text"]).head())  # a prediction and its confidence per text
print(predictor.predict_proba(new["text"]).head())  # a column per class
print(predictor.evaluate(new))  # accuracy, macro F1, per-class figures, confusion matrix

predictor.save("topic-model")  # an MLflow model folder, with the facts of the run
loaded = autotl.load("topic-model")
print(loaded.predict(["a storm of wind and snow"]))
