#!/bin/sh
# Writes the web servers' snippets of the package (not enabled) from the
# templates in cgi-bin/, with the installed paths filled in:
#   DEST/etc/apache2/conf-available/zoom2s3.conf      a2enconf zoom2s3
#   DEST/etc/lighttpd/conf-available/50-zoom2s3.conf  lighty-enable-mod zoom2s3
# Usage: debian/make-snippets.sh DEST (from debian/rules)
set -eu
dest=$1
fill() {
	sed -e 's|@URL_PATH@|/zoom2s3/webhook|g' \
		-e 's|@CGIBINDIR@|/usr/libexec/zoom2s3|g' \
		-e 's|@RUNDIR@|/run/lighttpd|g' \
		-e 's|@SOCKET@|/run/zoom2s3/zoom2s3.sock|g' \
		-e 's|@ZOOM2S3_CONFIG@|/etc/zoom2s3/responder.conf|g' "$1"
}
# a template without its opening comment (how to install it by hand)
body() { fill "$1" | awk 'started || !/^#/ { started = 1; print }'; }

install -d "$dest/etc/apache2/conf-available" "$dest/etc/lighttpd/conf-available"
{
	cat <<'HEAD'
# zoom2s3's webhook responder under Apache 2.4 with mod_fcgid, from the
# zoom2s3 package; not enabled. Zoom posts to https://YOUR.HOST/zoom2s3/webhook
# (every virtual host). Fill in /etc/zoom2s3/responder.conf first, then:
#     apt-get install libapache2-mod-fcgid
#     a2enmod fcgid && a2enconf zoom2s3 && systemctl reload apache2
# mod_fcgid starts /usr/libexec/zoom2s3/zoom2s3.fcgi as www-data.
# Off again: a2disconf zoom2s3 && systemctl reload apache2.
HEAD
	body cgi-bin/apache-fcgid.conf
	cat <<'ALT'

# ---- The mod_proxy_fcgi alternative: the responder runs on its own under
# spawn-fcgi (/usr/share/doc/zoom2s3/examples/zoom2s3-spawn-fcgi.service)
# and Apache passes requests to its socket. To use it, comment out the
# mod_fcgid lines above, uncomment these, then
#     apt-get install spawn-fcgi; a2enmod proxy_fcgi; systemctl reload apache2
ALT
	body cgi-bin/apache-proxy-fcgi.conf | sed -e 's/^\([^#]\)/#\1/'
} >"$dest/etc/apache2/conf-available/zoom2s3.conf"
{
	cat <<'HEAD'
# zoom2s3's webhook responder under lighttpd (FastCGI), from the zoom2s3
# package; not enabled. Zoom posts to https://YOUR.HOST/zoom2s3/webhook.
# Fill in /etc/zoom2s3/responder.conf first, then:
#     lighty-enable-mod zoom2s3 && systemctl reload lighttpd
# lighttpd starts /usr/libexec/zoom2s3/zoom2s3.fcgi as www-data.
# Off again: lighty-disable-mod zoom2s3 && systemctl reload lighttpd.
HEAD
	body cgi-bin/lighttpd-zoom2s3.conf
} >"$dest/etc/lighttpd/conf-available/50-zoom2s3.conf"
chmod 0644 "$dest/etc/apache2/conf-available/zoom2s3.conf" \
	"$dest/etc/lighttpd/conf-available/50-zoom2s3.conf"
