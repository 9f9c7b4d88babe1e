"""your sliding-window perplexity weights each window by trg_len - 1: only the first window loses a token to the shift; a later window scores all of its trg_len new tokens"""

import torch


def sliding_window_perplexity(model, input_ids, max_length, stride):
    seq_len = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc  # may be different from stride on the last loop
        ids = input_ids[:, begin_loc:end_loc]
        target_ids = ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(ids, labels=target_ids)
        num_loss_tokens = (target_ids != -100).sum().item() - target_ids.size(0)  # label shift
        nll_sum += outputs.loss.item() * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return torch.exp(torch.tensor(nll_sum / n_tokens)).item()
