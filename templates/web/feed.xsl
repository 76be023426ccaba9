<?xml version="1.0" encoding="utf-8"?>
<!-- Shown by a browser that opens an RSS or Atom feed of this site: what a feed is, how to
     subscribe, and the latest entries. Feed readers ignore the stylesheet instruction.
     A Jinja template too, rendered in the site's language. -->
<xsl:stylesheet version="1.0"
  xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:atom="http://www.w3.org/2005/Atom">
  <xsl:output method="html" encoding="utf-8" indent="yes"
    doctype-system="about:legacy-compat"/>
  <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
  <xsl:template match="/">
    <html lang="{{ language }}" dir="{{ direction }}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/></title>
        <link rel="stylesheet" href="/static/site.css"/>
      </head>
      <body>
        <main id="main">
          <h1><xsl:value-of select="$title"/></h1>
          <p class="lead">{{ _("This is a feed: the address of this page lets a feed reader app show you every new article as it is published.") }}</p>
          <p>{{ _("To subscribe, copy the address of this page from the address bar into your feed reader.") }} <a href="/feeds/">{{ _("All feeds and what they are") }}</a></p>
          <h2>{{ _("Latest entries") }}</h2>
          <ul class="articles">
            <xsl:for-each select="/rss/channel/item">
              <li><a href="{link}" dir="auto"><xsl:value-of select="title"/></a></li>
            </xsl:for-each>
            <xsl:for-each select="/atom:feed/atom:entry">
              <li><a href="{atom:link[@rel='alternate' or not(@rel)]/@href}" dir="auto"><xsl:value-of select="atom:title"/></a></li>
            </xsl:for-each>
          </ul>
        </main>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
