/**
 * The preset deflate dictionary of compact window records (compact-record.ts): the text that every
 * rendered `certificate_update` repeats — keys in their order, the usual extension texts, the issuers
 * that sign most of the CT firehose — so that one entry compressed on its own still gets matches for it.
 * A record's format byte says which dictionary it was compressed with: never change this text; a new
 * dictionary needs a new format (old records must still inflate).
 */

const TEXT =
  '"L":null,"O":null,"OU":null,"ST":null,"aggregated":"/CN=' +
  '"signature_algorithm":"sha256, rsa","signature_algorithm":"sha384, ecdsa",' +
  '"issuer":{"C":"US","CN":"R10","L":null,"O":"Let\'s Encrypt","OU":null,"ST":null,"aggregated":"/C=US/CN=R10/O=Let\'s Encrypt","emailAddress":null},' +
  '"issuer":{"C":"US","CN":"E5","L":null,"O":"Let\'s Encrypt","OU":null,"ST":null,"aggregated":"/C=US/CN=E6/O=Let\'s Encrypt","emailAddress":null},' +
  '"issuer":{"C":"US","CN":"WR1","L":null,"O":"Google Trust Services","OU":null,"ST":null,"aggregated":"/C=US/CN=WE1/O=Google Trust Services","emailAddress":null},' +
  '"issuer":{"C":"GB","CN":"Sectigo RSA Domain Validation Secure Server CA","L":"Salford","O":"Sectigo Limited","OU":null,"ST":"Greater Manchester","aggregated":"/C=GB/CN=Sectigo RSA Domain Validation Secure Server CA/L=Salford/O=Sectigo Limited/ST=Greater Manchester","emailAddress":null},' +
  '"issuer":{"C":"US","CN":"DigiCert Global G2 TLS RSA SHA256 2020 CA1","L":null,"O":"DigiCert Inc","OU":null,"ST":null,"aggregated":"/C=US/CN=Encryption Everywhere DV TLS CA - G2/O=DigiCert Inc/OU=www.digicert.com","emailAddress":null},' +
  '"issuer":{"C":"AT","CN":"ZeroSSL RSA Domain Secure Site CA","L":null,"O":"ZeroSSL","OU":null,"ST":null,"aggregated":"/C=AT/CN=ZeroSSL ECC Domain Secure Site CA/O=ZeroSSL","emailAddress":null},' +
  '"issuer":{"C":"US","CN":"Amazon RSA 2048 M02","L":null,"O":"Amazon","OU":null,"ST":null,"aggregated":"/C=US/CN=Amazon RSA 2048 M03/O=Amazon","emailAddress":null},' +
  '"certificatePolicies":"Policy: 2.23.140.1.2.1\\nPolicy: 1.3.6.1.4.1.6449.1.2.2.7\\n  CPS: https://sectigo.com/CPS","crlDistributionPoints":"Full Name:\\n URI:http://' +
  '"extendedKeyUsage":"TLS Web server authentication, TLS Web client authentication","keyUsage":"Digital Signature, Key Encipherment",' +
  '"authorityInfoAccess":"OCSP - URI:http://r10.o.lencr.org\\nCA Issuers - URI:http://r10.i.lencr.org/\\n","authorityInfoAccess":"CA Issuers - URI:http://e5.i.lencr.org/\\n",' +
  '"authorityInfoAccess":"OCSP - URI:http://ocsp.sectigo.com\\nCA Issuers - URI:http://crt.sectigo.com/","authorityInfoAccess":"OCSP - URI:http://ocsp.digicert.com\\nCA Issuers - URI:http://cacerts.digicert.com/",' +
  '"authorityInfoAccess":"OCSP - URI:http://o.pki.goog/wr1\\nCA Issuers - URI:http://i.pki.goog/wr1.crt\\n","crlDistributionPoints":"Full Name:\\n URI:http://c.pki.goog/wr1/' +
  '.crl","ctlPoisonByte":true,"ctlSignedCertificateTimestamp":"' +
  '"},"message_type":"certificate_update"}' +
  '"seen":17,"source":{"name":"Google \'Argon2026h1\' log","url":"https://ct.googleapis.com/logs/us1/argon2026h1/"},"source":{"name":"Let\'s Encrypt \'Oak2026h1\' log","url":"https://oak.ct.letsencrypt.org/2026h1/"},"update_type":"X509LogEntry"},"update_type":"PrecertLogEntry"},' +
  '{"data":{"cert_index":1,"cert_link":"https://ct.googleapis.com/logs/us1/argon2026h1/ct/v1/get-entries?start=1&end=1","cert_link":"https://oak.ct.letsencrypt.org/2026h1/ct/v1/get-entries?start=1&end=1",' +
  '"leaf_cert":{"all_domains":["www.example.com"],"extensions":{"authorityInfoAccess":"CA Issuers - URI:http://r11.i.lencr.org/\\n","authorityKeyIdentifier":"keyid:' +
  ':\\n","basicConstraints":"CA:FALSE","certificatePolicies":"Policy: 2.23.140.1.2.1","crlDistributionPoints":"Full Name:\\n URI:http://r11.c.lencr.org/1.crl",' +
  '"extendedKeyUsage":"TLS Web server authentication","keyUsage":"Digital Signature","subjectAltName":"DNS:www.example.com, DNS:example.com","subjectKeyIdentifier":"' +
  '"},"fingerprint":"","issuer":{"C":"US","CN":"R11","L":null,"O":"Let\'s Encrypt","OU":null,"ST":null,"aggregated":"/C=US/CN=R11/O=Let\'s Encrypt","emailAddress":null},' +
  '"not_after":17,"not_before":17,"serial_number":"0","signature_algorithm":"sha256, rsa","subject":{"C":null,"CN":"www.example.com","L":null,"O":null,"OU":null,"ST":null,"aggregated":"/CN=www.example.com","emailAddress":null}},';

/** FRAME_DICTIONARY's bytes. */
export const FRAME_DICTIONARY: Buffer = Buffer.from(TEXT, 'utf8');
