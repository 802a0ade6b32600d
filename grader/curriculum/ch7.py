"""Chapter 7: recurrent networks."""

from grader.curriculum.model import Chapter, Exercise

# docs/curriculum.md bans torch.lstm_cell, nn.LSTMCell and nn.LSTM for the LSTM cell; the
# whole-sequence LSTM may not use them either (nor torch.lstm, the same kernel).
_LSTM = ("torch.lstm_cell", "torch.nn.LSTMCell", "torch.nn.LSTM", "torch.lstm")
_GRU = ("torch.gru_cell", "torch.nn.GRUCell", "torch.nn.GRU", "torch.gru")

CHAPTER = Chapter(
    id="ch7",
    modules=("ch7_rnn",),
    exercises=(
        Exercise("rnn_step_forward", points=2),
        Exercise("rnn_step_backward", points=4),
        Exercise("rnn_forward", points=3),
        Exercise("rnn_backward", points=6),
        Exercise("lstm_step_forward", points=4, banned=_LSTM),
        Exercise("lstm_step_backward", points=6),
        Exercise("lstm_forward", points=3, banned=_LSTM),
        Exercise("gru_step_forward", points=4, banned=_GRU),
        Exercise("clip_grad_norm", points=3),
    ),
)
