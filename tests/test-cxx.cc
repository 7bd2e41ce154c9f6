// <msiv/msiv.h> (and the <msiv/protocol.h> it includes) as a C++ VMM
// includes it: compiled as C++11 with warnings as errors, linked against
// libmsiv (C linkage), a few calls made. TAP output.
#include <msiv/msiv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

static int n, failed;

static void
ok(bool cond, const char *what)
{
	std::printf("%s %d - %s\n", cond ? "ok" : "not ok", ++n, what);
	if (!cond)
		failed++;
}

// The wire's sizes, as the C compiler pins them.
static_assert(sizeof(struct msiv_hdr) == 24, "msiv_hdr");
static_assert(sizeof(struct msiv_status_rep) == 120, "status_rep");

int
main()
{
	char dir[] = "/tmp/msiv-cxx-XXXXXX";
	struct msiv_conn *c = nullptr;
	uint8_t tok[MSIV_TOKEN_LEN], got[MSIV_TOKEN_LEN];
	struct msiv_status_info st = {};

	if (mkdtemp(dir) == nullptr) {
		std::printf("Bail out! mkdtemp\n");
		return 1;
	}
	std::string sock = std::string(dir) + "/none.sock";
	std::string file = std::string(dir) + "/vm.token";

	ok(msiv_connect(sock.c_str(), "cxx", &c) == -ENOENT && c == nullptr,
	    "msiv_connect to no daemon: -ENOENT");
	ok(std::strcmp(msiv_strerror(0), "success") == 0, "msiv_strerror");
	ok(msiv_get_status(nullptr, &st, 1) == -EINVAL,
	    "msiv_get_status with a size too small: -EINVAL");
	for (unsigned int i = 0; i < MSIV_TOKEN_LEN; i++)
		tok[i] = static_cast<uint8_t>(i * 17);
	ok(msiv_token_save(file.c_str(), tok) == 0 &&
	    msiv_token_load(file.c_str(), got) == 0 &&
	    std::memcmp(tok, got, sizeof(tok)) == 0,
	    "msiv_token_save and msiv_token_load");
	unlink(file.c_str());
	rmdir(dir);
	std::printf("1..%d\n", n);
	return failed != 0;
}
