/* The ceiling of the responder benchmark: a FastCGI responder that reads
 * the request body and answers 200 with an empty body, with the same libfcgi
 * calls and answer headers as zoom2s3.fcgi, and nothing else (no signature
 * check, no JSON, no spool, no log line). bench/run.sh builds it with cc:
 *     cc -O2 -o hello_fcgi bench/hello_fcgi.c -lfcgi */
#include <fcgiapp.h>

int main(void)
{
	FCGX_Request request;
	char buf[16384];

	if (FCGX_Init() != 0 || FCGX_InitRequest(&request, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&request) >= 0) {
		/* Read the whole body, as the responder does. */
		while (FCGX_GetStr(buf, (int)sizeof buf, request.in) > 0)
			;
		FCGX_PutS("Status: 200 OK\r\nContent-Length: 0\r\n"
			  "Cache-Control: no-store\r\n\r\n", request.out);
		FCGX_Finish_r(&request);
	}
	FCGX_Free(&request, 1);
	return 0;
}
