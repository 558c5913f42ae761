/* libFuzzer target: the config file parser. Whatever it accepts must be a
 * config the programs can use (a key_template that keytmpl_validate accepts,
 * a part_size in range...), and freeing it must leave nothing behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keytmpl.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512], *text;
	uint64_t bytes;

	/* topic_regex goes to glibc's regcomp, whose memory can grow exponentially
	 * with nested repetitions: that is the operator's own (trusted) config
	 * and not our code. config.c refuses the known blowups (test_config);
	 * fuzzing regcomp itself only finds more of them and stalls the run. */
	if (memmem(data, size, "topic_regex", 11))
		return 0;
	if (config_parse("fuzz.conf", (const char *)data, size, CONFIG_ANY, &cfg, err,
			 sizeof err) == 0) {
		if (cfg.key_template && keytmpl_validate(cfg.key_template, err, sizeof err) != 0)
			abort();
		if (!cfg.spool_dir)
			abort();
		if (cfg.n_file_types > CONFIG_MAX_LIST || cfg.n_download_hosts > CONFIG_MAX_LIST)
			abort();
		config_free(&cfg);
	}
	/* config_parse registers secrets; the list must not grow run after run. */
	log_forget_secrets();

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)config_parse_size(text, &bytes);
	free(text);
	return 0;
}
