// Test helper for tests/cli/*.sh (built by the script itself): prints the
// JSON value at a path so shell tests can check fields without python or jq.
//   json_get FILE              exits 0 if FILE parses, 1 if not
//   json_get FILE rows.2.name  prints "name" of the third element of "rows"
// Numbers print with %.17g, strings raw, true/false/null as words, arrays
// and objects as their element count. A missing key exits 1.
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: json_get FILE [PATH]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    if (!root) {
        fprintf(stderr, "%s: not valid JSON\n", argv[1]);
        return 1;
    }
    const cJSON *v = root;
    if (argc == 3) {
        char path[1024];
        snprintf(path, sizeof path, "%s", argv[2]);
        for (char *save = NULL, *k = strtok_r(path, ".", &save); v && k; k = strtok_r(NULL, ".", &save))
            v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, atoi(k)) : cJSON_GetObjectItemCaseSensitive(v, k);
    }
    int rc = 0;
    if (!v) {
        fprintf(stderr, "%s: no %s\n", argv[1], argv[2]);
        rc = 1;
    } else if (cJSON_IsNumber(v))
        printf("%.17g\n", v->valuedouble);
    else if (cJSON_IsString(v))
        printf("%s\n", v->valuestring);
    else if (cJSON_IsBool(v))
        printf("%s\n", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        printf("null\n");
    else
        printf("%d\n", cJSON_GetArraySize(v));
    cJSON_Delete(root);
    return rc;
}
