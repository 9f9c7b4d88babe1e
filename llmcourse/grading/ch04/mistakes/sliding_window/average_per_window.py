"""your sliding-window perplexity averages the windows' losses: the last window scores fewer tokens than the others, so weight each window by the number of tokens it scores"""

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
        nlls.append(outputs.loss)
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return torch.exp(torch.stack(nlls).mean()).item()
