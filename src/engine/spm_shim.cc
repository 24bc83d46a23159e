// spm_shim.cc: the only C++ in nmtd; wraps sentencepiece::SentencePieceProcessor
// behind spm.h.  No exception crosses into C.
#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

extern "C" {
#include "spm.h"
}

struct nmt_spm {
    sentencepiece::SentencePieceProcessor proc;
};

extern "C" nmt_code nmt_spm_load(nmt_spm **out, const char *path, nmt_err *err)
{
    *out = nullptr;
    nmt_spm *spm = new (std::nothrow) nmt_spm;
    if (!spm)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    try {
        auto status = spm->proc.Load(path);
        if (!status.ok()) {
            nmt_code code = status.code() == sentencepiece::util::StatusCode::kNotFound ? NMT_ERR_IO : NMT_ERR_FORMAT;
            nmt_err_set(err, code, "%s: not a SentencePiece model: %s", path, status.ToString().c_str());
            delete spm;
            return code;
        }
    } catch (const std::exception &e) {
        delete spm;
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: cannot load SentencePiece model: %s", path, e.what());
    }
    *out = spm;
    return NMT_OK;
}

extern "C" void nmt_spm_free(nmt_spm *spm)
{
    delete spm;
}

extern "C" int nmt_spm_encode(const nmt_spm *spm, const char *text, size_t len, nmt_spm_piece_fn fn, void *ctx,
                              nmt_err *err)
{
    try {
        std::vector<std::string> pieces;
        auto status = spm->proc.Encode(std::string(text, len), &pieces);
        if (!status.ok())
            return nmt_err_set(err, NMT_ERR_INVALID, "SentencePiece encode failed: %s", status.ToString().c_str());
        for (const auto &p : pieces) {
            int rc = fn(ctx, p.data(), p.size());
            if (rc)
                return rc;
        }
    } catch (const std::exception &e) {
        return nmt_err_set(err, NMT_ERR_NOMEM, "SentencePiece encode failed: %s", e.what());
    }
    return NMT_OK;
}

extern "C" nmt_code nmt_spm_decode(const nmt_spm *spm, const char *const *pieces, int n, char **out, nmt_err *err)
{
    *out = nullptr;
    try {
        std::vector<std::string> in(pieces, pieces + n);
        std::string text;
        auto status = spm->proc.Decode(in, &text);
        if (!status.ok())
            return nmt_err_set(err, NMT_ERR_INVALID, "SentencePiece decode failed: %s", status.ToString().c_str());
        char *s = static_cast<char *>(std::malloc(text.size() + 1));
        if (!s)
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        std::memcpy(s, text.data(), text.size());
        s[text.size()] = '\0';
        *out = s;
    } catch (const std::exception &e) {
        return nmt_err_set(err, NMT_ERR_NOMEM, "SentencePiece decode failed: %s", e.what());
    }
    return NMT_OK;
}
