// The installed llama.h (found through pkg-config `llama`) plus one function-pointer type per symbol the
// engine resolves with dlsym. `__typeof__` keeps each type in lock-step with the header it was built against.
#ifndef ROCKCHIPLLAMA_CLLAMA_SHIM_H
#define ROCKCHIPLLAMA_CLLAMA_SHIM_H

#include <llama.h>
#include <mtmd.h>
#include <mtmd-helper.h>

#define CLLAMA_FN(name) typedef __typeof__(&name) name##_fn;

// Library
CLLAMA_FN(llama_backend_init)
CLLAMA_FN(llama_version)
CLLAMA_FN(llama_log_set)

// Model and context
CLLAMA_FN(llama_model_default_params)
CLLAMA_FN(llama_context_default_params)
CLLAMA_FN(llama_model_load_from_file)
CLLAMA_FN(llama_model_free)
CLLAMA_FN(llama_init_from_model)
CLLAMA_FN(llama_free)
CLLAMA_FN(llama_model_get_vocab)
CLLAMA_FN(llama_model_chat_template)
CLLAMA_FN(llama_model_n_embd_out)
CLLAMA_FN(llama_model_n_embd_inp)
CLLAMA_FN(llama_n_ctx_seq)
CLLAMA_FN(llama_n_batch)
CLLAMA_FN(llama_get_memory)
CLLAMA_FN(llama_pooling_type)

// Memory (KV cache)
CLLAMA_FN(llama_memory_clear)
CLLAMA_FN(llama_memory_seq_rm)

// State files
CLLAMA_FN(llama_state_seq_save_file)
CLLAMA_FN(llama_state_seq_load_file)

// Decoding
CLLAMA_FN(llama_batch_init)
CLLAMA_FN(llama_batch_free)
CLLAMA_FN(llama_decode)
CLLAMA_FN(llama_get_embeddings_seq)

// Vocabulary and text
CLLAMA_FN(llama_vocab_n_tokens)
CLLAMA_FN(llama_vocab_is_eog)
CLLAMA_FN(llama_tokenize)
CLLAMA_FN(llama_token_to_piece)
CLLAMA_FN(llama_chat_apply_template)

// Sampling
CLLAMA_FN(llama_sampler_chain_default_params)
CLLAMA_FN(llama_sampler_chain_init)
CLLAMA_FN(llama_sampler_chain_add)
CLLAMA_FN(llama_sampler_free)
CLLAMA_FN(llama_sampler_accept)
CLLAMA_FN(llama_sampler_sample)
CLLAMA_FN(llama_sampler_apply)
CLLAMA_FN(llama_get_logits_ith)
CLLAMA_FN(llama_sampler_init_greedy)
CLLAMA_FN(llama_sampler_init_dist)
CLLAMA_FN(llama_sampler_init_top_k)
CLLAMA_FN(llama_sampler_init_top_p)
CLLAMA_FN(llama_sampler_init_min_p)
CLLAMA_FN(llama_sampler_init_temp)
CLLAMA_FN(llama_sampler_init_penalties)
CLLAMA_FN(llama_sampler_init_mirostat)
CLLAMA_FN(llama_sampler_init_mirostat_v2)
CLLAMA_FN(llama_sampler_init_grammar)

// libmtmd (images): opened next to libllama, only for models with a projector
CLLAMA_FN(mtmd_context_params_default)
CLLAMA_FN(mtmd_init_from_file)
CLLAMA_FN(mtmd_free)
CLLAMA_FN(mtmd_support_vision)
CLLAMA_FN(mtmd_decode_use_mrope)
CLLAMA_FN(mtmd_default_marker)
CLLAMA_FN(mtmd_helper_log_set)
CLLAMA_FN(mtmd_helper_init_opt_default)
CLLAMA_FN(mtmd_helper_bitmap_init_from_buf)
CLLAMA_FN(mtmd_helper_video_free)
CLLAMA_FN(mtmd_bitmap_free)
CLLAMA_FN(mtmd_bitmap_get_id)
CLLAMA_FN(mtmd_bitmap_get_nx)
CLLAMA_FN(mtmd_bitmap_get_ny)
CLLAMA_FN(mtmd_bitmap_get_data)
CLLAMA_FN(mtmd_bitmap_is_audio)
CLLAMA_FN(mtmd_input_chunks_init)
CLLAMA_FN(mtmd_input_chunks_free)
CLLAMA_FN(mtmd_input_chunks_size)
CLLAMA_FN(mtmd_input_chunks_get)
CLLAMA_FN(mtmd_input_chunk_get_type)
CLLAMA_FN(mtmd_input_chunk_get_tokens_text)
CLLAMA_FN(mtmd_input_chunk_get_n_tokens)
CLLAMA_FN(mtmd_input_chunk_get_n_pos)
CLLAMA_FN(mtmd_input_chunk_get_id)
CLLAMA_FN(mtmd_input_chunk_copy)
CLLAMA_FN(mtmd_input_chunk_free)
CLLAMA_FN(mtmd_tokenize)
CLLAMA_FN(mtmd_encode_chunk)
CLLAMA_FN(mtmd_get_output_embd)
CLLAMA_FN(mtmd_helper_decode_image_chunk)

#undef CLLAMA_FN

#endif
