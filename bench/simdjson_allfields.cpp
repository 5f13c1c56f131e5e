// The parse limit for bench_instructions.sh: simdjson On-Demand (Debian's
// libsimdjson-dev) reading every field of every record of a JSONL file —
// each key, numbers as double, strings as views, nested objects walked — one
// record per line as driftwatch replay reads them. Prints the record count
// and a checksum of what it read (so nothing is optimised away). Bench only:
// the product never links simdjson.
//
//   simdjson_allfields FILE.jsonl
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

using namespace simdjson;

struct sums {
    double num = 0;
    size_t bytes = 0, fields = 0;
};

static error_code walk(ondemand::object obj, sums &s, int depth)
{
    for (auto field : obj) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key))
            return err;
        s.bytes += key.size();
        s.fields++;
        ondemand::value v;
        if (auto err = field.value().get(v))
            return err;
        ondemand::json_type t;
        if (auto err = v.type().get(t))
            return err;
        switch (t) {
        case ondemand::json_type::object: {
            ondemand::object o;
            if (auto err = v.get_object().get(o))
                return err;
            if (depth > 8)
                return DEPTH_ERROR;
            if (auto err = walk(o, s, depth + 1))
                return err;
            break;
        }
        case ondemand::json_type::number: {
            double d;
            if (auto err = v.get_double().get(d))
                return err;
            s.num += d;
            break;
        }
        case ondemand::json_type::string: {
            std::string_view str;
            if (auto err = v.get_string().get(str))
                return err;
            s.bytes += str.size();
            break;
        }
        case ondemand::json_type::boolean: {
            bool b;
            if (auto err = v.get_bool().get(b))
                return err;
            s.bytes += b;
            break;
        }
        case ondemand::json_type::null: break;
        case ondemand::json_type::array: {
            size_t count;
            if (auto err = v.count_elements().get(count))
                return err;
            s.bytes += count;
            break;
        }
        }
    }
    return SUCCESS;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s FILE.jsonl\n", argv[0]);
        return 2;
    }
    FILE *in = std::fopen(argv[1], "r");
    if (!in) {
        std::perror(argv[1]);
        return 2;
    }
    ondemand::parser parser;
    sums s;
    size_t records = 0, bad = 0;
    size_t cap = 1 << 16;
    char *line = static_cast<char *>(std::malloc(cap));
    padded_string copy;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        /* getline's buffer is normally far larger than the line, which is
         * the padding simdjson needs; copy only when it is not. */
        padded_string_view view(line, size_t(n), cap);
        if (cap - size_t(n) < SIMDJSON_PADDING) {
            copy = padded_string(line, size_t(n));
            view = padded_string_view(copy);
        }
        ondemand::document doc;
        ondemand::object obj;
        if (parser.iterate(view).get(doc) || doc.get_object().get(obj) || walk(obj, s, 0)) {
            bad++;
            continue;
        }
        records++;
    }
    std::free(line);
    std::fclose(in);
    std::printf("records %zu invalid %zu fields %zu checksum %.6g %zu\n", records, bad, s.fields,
                s.num, s.bytes);
    return 0;
}
