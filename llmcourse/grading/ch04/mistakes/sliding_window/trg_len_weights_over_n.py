"""your sliding-window perplexity weights the windows by trg_len and divides by the text's length: the first token is never predicted, so the first window scores trg_len - 1 tokens and the total is N - 1"""

import torch


def sliding_window_perplexity(model, input_ids, max_length, stride):
    seq_len = input_ids.size(1)
    nlls = []
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc  # may be different from stride on the last loop
        ids = input_ids[:, begin_loc:end_loc]
        target_ids = ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(ids, labels=target_ids)
        nlls.append(outputs.loss * trg_len)
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return torch.exp(torch.stack(nlls).sum() / end_loc).item()
